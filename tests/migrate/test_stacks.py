"""Golden stacks: each shape that per-file migration got wrong, through the API and the CLI.

Each case gives the files before, the stack (prime-rl's words), the files after (exact text), and
what the launched run trains, per SFT data section. The composed meaning is computed here, by a
deep merge and the two schemas' rules written out in this file, not by lossmask's own code.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lossmask.config_files.stacks import split_arguments
from lossmask.migrate.command import run
from lossmask.migrate.options import MigrateOptions
from tests.cli_runner import run_cli
from tests.conftest import PRE_2988_SUMMARY as SOURCE

MISSING = '# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
LEGACY_LINES = "system = false\nuser = false\nassistant = true\ntool = false\n"
ASSISTANT = {"system": False, "user": False, "assistant": True, "tool": False}


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _composed(tmp: Path, words: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    index = 0
    while index < len(words):
        nest: list[str] = []
        if words[index].startswith("--"):
            nest = words[index][2:].split(".")
            index += 1
        assert words[index] == "@"
        layer: dict[str, Any] = tomllib.loads((tmp / words[index + 1]).read_text())
        for part in reversed(nest):
            layer = {part: layer}
        config = _merge(config, layer)
        index += 2
    return config


def _trains(config: Mapping[str, Any], version: int) -> dict[str, Any]:
    """What each SFT data section of an `sft` launch trains under schema `version`."""
    found = {}
    sections = {"data": config.get("data", {}), "val.data": config.get("val", {}).get("data")}
    for name, section in sections.items():
        if section is None or section.get("type", "sft") != "sft":
            continue
        mask = section.get("loss_mask")
        if mask is None:
            found[name] = dict(ASSISTANT) if version == 1 else "sampled"
        elif isinstance(mask, dict):
            found[name] = {**ASSISTANT, **mask}
        else:
            found[name] = mask
    return found


@dataclass
class Case:
    before: dict[str, str]
    stack: str
    after: dict[str, str] = field(default_factory=dict)  # files that change; the rest stay
    trains: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0
    summary: str = ""


PARTIAL_BASE = '[data]\nname = "org/tool-sft"\n\n[data.loss_mask]\nuser = true\n'
CASES = {
    # The first example: per-file migration gave the overlay a full legacy table, which
    # won the merge and dropped `user`.
    "partial-base-and-seq-len-overlay": Case(
        {"base.toml": PARTIAL_BASE, "overlay.toml": "[data]\nseq_len = 8192\n"},
        "@ base.toml @ overlay.toml",
        trains={"data": {**ASSISTANT, "user": True}},
        summary="0 files migrated, 2 unchanged, 1 stack" + SOURCE,
    ),
    "val-data-overlay": Case(
        {
            "base.toml": '[data]\nname = "x"\nloss_mask = "sampled"\n',
            "overlay.toml": '[val.data]\nname = "val"\n',
        },
        "@ base.toml @ overlay.toml",
        after={
            "base.toml": '[data]\nname = "x"\nloss_mask = "sampled"\n\n'
            + MISSING
            + "[val.data.loss_mask]\n"
            + LEGACY_LINES
        },
        trains={"data": "sampled", "val.data": ASSISTANT},
        summary="1 file migrated, 1 unchanged, 1 stack" + SOURCE,
    ),
    "sampled-base-and-legacy-overlay": Case(
        {
            "base.toml": '[data]\nname = "x"\nloss_mask = "sampled"\n',
            "overlay.toml": "[data]\nseq_len = 8192\n",
        },
        "@ base.toml @ overlay.toml",
        trains={"data": "sampled"},
        summary="0 files migrated, 2 unchanged, 1 stack" + SOURCE,
    ),
    "all-base-and-legacy-overlay": Case(
        {
            "base.toml": '[data]\nname = "x"\nloss_mask = "all"\n',
            "overlay.toml": "# longer runs\n[data]\nseq_len = 8192\nbatch_size = 8\n",
        },
        "@ base.toml @ overlay.toml",
        trains={"data": "all"},
        summary="0 files migrated, 2 unchanged, 1 stack" + SOURCE,
    ),
    "overlay-with-only-type-sft": Case(
        {
            "base.toml": '[data]\nname = "x"\n\n[optim]\nlr = 1\n',
            "overlay.toml": '[data]\ntype = "sft"\n',
        },
        "@ base.toml @ overlay.toml",
        after={
            "base.toml": '[data]\nname = "x"\n\n'
            + MISSING
            + "[data.loss_mask]\n"
            + LEGACY_LINES
            + "\n[optim]\nlr = 1\n"
        },
        trains={"data": ASSISTANT},
        summary="1 file migrated, 1 unchanged, 1 stack" + SOURCE,
    ),
    # Completing the overlay's partial table would have written `user = false` over the base's.
    "partial-overlay-over-base-with-other-roles": Case(
        {"base.toml": PARTIAL_BASE, "overlay.toml": "[data.loss_mask]\ntool = true\n"},
        "@ base.toml @ overlay.toml",
        trains={"data": {**ASSISTANT, "user": True, "tool": True}},
        summary="0 files migrated, 2 unchanged, 1 stack" + SOURCE,
    ),
    # An sft launch without [data] trains the default dataset: assistant only under v1.
    "sft-config-without-data": Case(
        {"slim_sft.toml": '[slurm]\njob_name = "slim"\n'},
        "@ slim_sft.toml",
        after={
            "slim_sft.toml": '[slurm]\njob_name = "slim"\n\n'
            + MISSING
            + "[data.loss_mask]\n"
            + LEGACY_LINES
        },
        trains={"data": ASSISTANT},
        summary="1 file migrated, 0 unchanged, 1 stack" + SOURCE,
    ),
    "data-fragment-under-a-base-without-data": Case(
        {"base.toml": '[model]\nname = "m"\n', "data.toml": 'name = "x"\nseq_len = 2\n'},
        "@ base.toml --data @ data.toml",
        after={
            "base.toml": '[model]\nname = "m"\n\n' + MISSING + "[data.loss_mask]\n" + LEGACY_LINES
        },
        trains={"data": ASSISTANT},
        summary="1 file migrated, 1 unchanged, 1 stack" + SOURCE,
    ),
    "data-fragment-as-the-root": Case(
        {"data.toml": 'name = "x"\n\n[extra]\na = 1\n', "more.toml": "[data]\nseq_len = 4\n"},
        "--data @ data.toml @ more.toml",
        after={
            "data.toml": 'name = "x"\n\n[extra]\na = 1\n\n'
            + MISSING
            + "[loss_mask]\n"
            + LEGACY_LINES
        },
        trains={"data": ASSISTANT},
        summary="1 file migrated, 1 unchanged, 1 stack" + SOURCE,
    ),
}


def _check_outcome(tmp: Path, case: Case) -> None:
    words = case.stack.split()
    for name, text in case.before.items():
        assert (tmp / name).read_text() == case.after.get(name, text), name
    old = {name: text for name, text in case.before.items()}
    old_dir = tmp / "old"
    old_dir.mkdir(exist_ok=True)
    for name, text in old.items():
        (old_dir / name).write_text(text)
    before = _composed(old_dir, words)
    after = _composed(tmp, words)
    assert _trains(before, version=1) == case.trains
    assert _trains(after, version=2) == case.trains

    def without_masks(config: dict[str, Any]) -> dict[str, Any]:
        config = _merge({}, config)
        for outer in (config, config.get("val", {})):
            if isinstance(outer.get("data"), dict):
                outer["data"] = {k: v for k, v in outer["data"].items() if k != "loss_mask"}
                if not outer["data"]:
                    del outer["data"]
        return {k: v for k, v in config.items() if v != {}}

    assert without_masks(after) == without_masks(before)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_stack_through_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in case.before.items():
        (tmp_path / name).write_text(text)
    _, stacks = split_arguments(case.stack.split())
    report = run(MigrateOptions(stacks=stacks, reader="prime-rl-pre-2988", mode="write"))
    assert int(report.exit_code) == case.exit_code
    changed = {result.path for result in report.files if result.status == "migrated"}
    assert changed == set(case.after)
    _check_outcome(tmp_path, case)
    again = run(MigrateOptions(stacks=stacks, reader="prime-rl-pre-2988", mode="check"))
    assert (int(again.exit_code), again.count("would_migrate")) == (0, 0)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_stack_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in case.before.items():
        (tmp_path / name).write_text(text)
    check = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", *case.stack.split()])
    assert check.exit_code == (1 if case.after else 0), check.output
    result = run_cli(["migrate", "--reader", "prime-rl-pre-2988", *case.stack.split()])
    assert result.exit_code == case.exit_code, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"Stack `sft {case.stack}` (from the command line)"
    assert lines[-1] == case.summary
    _check_outcome(tmp_path, case)
    quoted = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", "--stack", case.stack])
    assert quoted.exit_code == 0, quoted.output


CONFLICT_BASE = '[data]\nname = "x"\n'
CONFLICT_OTHER = '[data]\nname = "o"\n\n[data.loss_mask]\nuser = true\n'


def test_a_root_that_is_an_overlay_elsewhere_is_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.toml").write_text(CONFLICT_BASE)
    (tmp_path / "other.toml").write_text(CONFLICT_OTHER)
    (tmp_path / "fine.toml").write_text('[data]\nname = "f"\n')
    result = run_cli(
        [
            *("migrate", "--reader", "prime-rl-pre-2988"),
            *("--stack", "@ base.toml", "--stack", "@ other.toml @ base.toml", "fine.toml"),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Stack `sft @ base.toml` (from the command line)",
        "Stack `sft @ other.toml @ base.toml` (from the command line)",
        "Rewriting fine.toml",
        "error: base.toml: conflict: as the root of `sft @ base.toml` this file needs the legacy "
        "loss_mask table, which would change what another stack trains: `sft @ other.toml @ "
        "base.toml` (data.loss_mask: the rewrite would train roles(assistant) under v2 where v1 "
        "trained roles(user, assistant)); not rewritten (give each launch its own root file, or "
        "set loss_mask in the overlay by hand)",
        "1 file migrated, 1 unchanged, 2 stacks, 1 error" + SOURCE,
    ]
    assert (tmp_path / "base.toml").read_text() == CONFLICT_BASE
    assert (tmp_path / "other.toml").read_text() == CONFLICT_OTHER
    assert (tmp_path / "fine.toml").read_text().endswith("[data.loss_mask]\n" + LEGACY_LINES)
    # Through the API: the same, and the exit code comes from the report.
    (tmp_path / "fine.toml").write_text('[data]\nname = "f"\n')
    _, stacks = split_arguments(["@", "base.toml"])
    _, more = split_arguments(["@", "other.toml", "@", "base.toml"])
    report = run(
        MigrateOptions(
            paths=["fine.toml"], stacks=[*stacks, *more], reader="prime-rl-pre-2988", mode="check"
        )
    )
    assert int(report.exit_code) == 2
    assert [(r.path, r.status) for r in report.files] == [
        ("fine.toml", "would_migrate"),
        ("base.toml", "error"),
        ("other.toml", "unchanged"),
    ]


def test_check_with_diff_prints_the_diff_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.toml").write_text('[data]\nname = "x"\n')
    result = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", "--diff", "a.toml"])
    assert result.exit_code == 1
    assert result.stdout.startswith("--- a.toml\n+++ a.toml\n")
    assert "+[data.loss_mask]\n" in result.stdout
    assert (tmp_path / "a.toml").read_text() == '[data]\nname = "x"\n'


def test_overlay_looking_files_are_undecided_until_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "overlay.toml").write_text("[data]\nseq_len = 8192\n")
    check = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", "overlay.toml"])
    assert check.exit_code == 1
    assert check.stderr.splitlines() == [
        "Undecided overlay.toml: meaning depends on how it is launched ([data] sets neither name "
        "nor loss_mask, like an overlay); name its stack (`lossmask migrate @ base.toml @ "
        "this.toml`) or pass --standalone overlay.toml",
        "0 files would be migrated, 0 unchanged, 1 whose meaning depends on how it is launched"
        + SOURCE,
    ]
    written = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "overlay.toml"])
    assert written.exit_code == 0
    assert (tmp_path / "overlay.toml").read_text() == "[data]\nseq_len = 8192\n"
    settled = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--standalone", "overlay.toml"])
    assert settled.exit_code == 0, settled.output
    assert (tmp_path / "overlay.toml").read_text() == (
        "[data]\nseq_len = 8192\n\n" + MISSING + "[data.loss_mask]\n" + LEGACY_LINES
    )


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["@"], "`@` must be followed by a file"),
        (["--stack", "a.toml"], "--stack 'a.toml' is not one `@ FILE @ FILE...` stack"),
        (["--bogus", "x.toml"], "unknown option '--bogus'"),
    ],
)
def test_stack_usage_errors_exit_2(words: list[str], message: str) -> None:
    result = run_cli(["migrate", "--reader", "prime-rl-pre-2988", *words])
    assert result.exit_code == 2
    assert f"Error: {message}" in result.stderr


def test_json_report_lists_stacks_and_undecided_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.toml").write_text('[model]\nname = "m"\n')
    (tmp_path / "data.toml").write_text('name = "x"\n')
    (tmp_path / "overlay.toml").write_text("[data]\nseq_len = 8\n")
    words = ["@", "base.toml", "--data", "@", "data.toml", "overlay.toml"]
    result = run_cli(
        ["migrate", "--reader", "prime-rl-pre-2988", "--check", "--format", "json", *words]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["stacks"] == [
        {
            "command": "sft",
            "layers": [
                {"path": "base.toml", "nested_under": None},
                {"path": "data.toml", "nested_under": "data"},
            ],
            "found_in": ["the command line"],
        }
    ]
    assert [(f["path"], f["status"]) for f in report["files"]] == [
        ("overlay.toml", "undecided"),
        ("base.toml", "would_migrate"),
        ("data.toml", "unchanged"),
    ]
    assert report["files"][0]["depends_on_launch"] == (
        "[data] sets neither name nor loss_mask, like an overlay"
    )
    assert report["summary"]["text"] == (
        "1 file would be migrated, 1 unchanged, 1 whose meaning depends on how it is launched, "
        "1 stack" + SOURCE
    )
