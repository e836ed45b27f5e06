"""`validate` and `migrate` on a copy of prime-rl main's tree (559b447: its configs, and the docs,
scripts, CI and Python launchers that launch them; tests/corpus/prime-rl-tree), read as prime-rl
main: no false statement, exit 0 with `--warnings-as-errors` for the SFT configs main
accepts, an error with main's reason for each config main refuses (main's own verdicts:
`main_configs/verdicts.tsv`), and a migration that changes no run's meaning."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from lossmask.config_files.stacks import compose
from lossmask.readers import PRIME_RL_MAIN, Reading, lossmask_reading
from lossmask.readers.meanings import MaskMeaning, renderer_meaning, section_meaning
from lossmask.schema.sections import sft_sections
from tests.cli_runner import run_cli
from tests.conftest import REPO_ROOT

TREE = REPO_ROOT / "tests" / "corpus" / "prime-rl-tree"
# Each TOML file of the tree's configs/ and examples/: its entrypoint and main's verdict.
MANIFEST = Path(__file__).parent / "main_tree_manifest.tsv"
MAIN_CONFIGS = Path(__file__).parent / "main_configs"
MAIN = Reading(PRIME_RL_MAIN, 1)
LATEST = lossmask_reading()


def _manifest() -> dict[str, str]:
    with MANIFEST.open(encoding="utf-8") as handle:
        return {row["dest"]: row["entrypoint"] for row in csv.DictReader(handle, delimiter="\t")}


ENTRYPOINTS = _manifest()
SFT = sorted(name for name, kind in ENTRYPOINTS.items() if kind == "sft")


def _validate(*words: str) -> dict:
    result = run_cli(["validate", "--reader", "prime-rl-main", "--format", "json", *words])
    report = json.loads(result.stdout)
    assert report["exit_code"] == result.exit_code
    return report


def test_the_tree_is_validated_as_prime_rl_main_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TREE)
    strict = run_cli(
        ["validate", "--reader", "prime-rl-main", "--warnings-as-errors", "configs", "examples"]
    )
    assert strict.exit_code == 0, strict.stderr
    report = _validate("configs", "examples")
    files = {f["path"]: f for f in report["files"]}
    assert set(files) == set(ENTRYPOINTS)
    for name, kind in ENTRYPOINTS.items():
        result = files[name]
        assert (result["errors"], result["warnings"]) == ([], []), name
        if kind == "sft":
            assert result["status"] == "valid", name
            continue
        # Every other entrypoint's config: one line, naming the entrypoint.
        assert result["status"] == "skipped", name
        [note] = result["notes"]
        assert note["message"].startswith(f"not an SFT trainer config: a `{kind}` config ("), name
    # The one SFT launch without [data] is named: main trains its default dataset there.
    notes = {name: [n["message"] for n in files[name]["notes"]] for name in SFT}
    assert {name: said for name, said in notes.items() if said} == {
        "configs/ci/slim_sft.toml": [
            "no [data] table: prime-rl main trains its default dataset "
            '"PrimeIntellect/Reverse-Text-SFT" on the renderer\'s sampled tokens (before PR #2988 '
            "it trained assistant messages only)"
        ]
    }
    assert report["summary"]["text"] == (
        f"{len(SFT)} files valid, {len(ENTRYPOINTS) - len(SFT)} not SFT configs (skipped) "
        "(read as prime-rl main)"
    )


def test_nothing_said_under_main_is_a_statement_about_another_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(TREE)
    said = run_cli(["validate", "--reader", "prime-rl-main", "configs", "examples"]).stderr
    for false_for_main in (
        "trained assistant messages only\n",  # main trains the sampled tokens (ends a v2 warning)
        "schema version",
        "unknown key",
        "must be a table",
    ):
        assert false_for_main not in said


def _verdicts() -> dict[str, str]:
    rows = (MAIN_CONFIGS / "verdicts.tsv").read_text(encoding="utf-8").splitlines()
    return dict(row.split("\t") for row in rows)


@pytest.mark.parametrize(("name", "verdict"), sorted(_verdicts().items()))
def test_main_s_refusals_are_errors_with_main_s_reason(name: str, verdict: str) -> None:
    report = _validate(str(MAIN_CONFIGS / name))
    [result] = report["files"]
    if verdict == "accepts":
        assert (report["exit_code"], result["errors"], result["warnings"]) == (0, [], []), name
        return
    assert report["exit_code"] == 1
    [error] = result["errors"]
    assert error["message"].startswith("prime-rl main re"), error  # refuses / rejects
    if "renderer" in name or "model" in name:
        assert (
            "SFT requires a typed renderer" in error["message"]
            or "unknown renderer" in (error["message"])
        )


# --- migrate -------------------------------------------------------------------------------------


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "prime-rl"
    shutil.copytree(TREE, copy)
    for root, _, names in os.walk(copy):
        for name in names:
            os.chmod(os.path.join(root, name), 0o644)
    return copy


RENDERER_BLOCK = (
    "# lossmask migrate: prime-rl main renders SFT data with the renderer registered for the "
    'model\n[renderer]\nname = "auto"\n'
)


def _meaning(config: dict, reading: Reading) -> tuple[object, ...]:
    """What a composed config trains as `reading` reads it: its renderer and each section's mask."""
    sections = sorted(
        (path, section_meaning(section, reading)) for path, section in sft_sections(config)
    )
    return renderer_meaning(config, reading), tuple(sections)


def test_migrating_the_tree_under_main_changes_no_run(tree_copy: Path) -> None:
    planned = run_cli(
        ["migrate", "--reader", "prime-rl-main", "--check", "--format", "json", str(tree_copy)]
    )
    stacks = json.loads(planned.stdout)["stacks"]
    originals = {
        str(tree_copy / name): tomllib.loads((TREE / name).read_text()) for name in ENTRYPOINTS
    }
    result = run_cli(["migrate", "--reader", "prime-rl-main", str(tree_copy)])
    assert result.exit_code == 0, result.output
    rewritten = {
        line.removeprefix(f"Rewriting {tree_copy}/")
        for line in result.stderr.splitlines()
        if line.startswith("Rewriting ")
    }
    # No [renderer]: main's "auto" is written; the one explicit table becomes "sampled".
    gains_renderer = {
        name
        for name in SFT
        if name
        not in {
            "configs/ci/slim_sft.toml",  # undecided: launched how? (no [data])
            "configs/debug/fake/sft.toml",  # fake data: no renderer needed
            "examples/vlm_sft/sft.toml",  # already names one
            "examples/vlm_sft_moe/sft.toml",
        }
    }
    assert rewritten == gains_renderer | {"examples/vlm_sft_moe/sft.toml"}
    assert result.stderr.splitlines()[-1].endswith(
        # 43 stacks: the launch lines of the tree's docs, scripts, CI and Python test launchers.
        "1 whose meaning depends on how it is launched, 43 stacks (read as prime-rl main; "
        "written as lossmask schema v3)"
    )
    for name in ENTRYPOINTS:
        before = (TREE / name).read_text()
        after = (tree_copy / name).read_text()
        if name not in rewritten:
            assert after == before, name
            continue
        if name in gains_renderer:
            # After a blank line; a file that did not end with a newline still does not.
            if before.endswith("\n"):
                assert after == before + "\n" + RENDERER_BLOCK, name
            else:
                assert after == before + "\n" + RENDERER_BLOCK.removesuffix("\n"), name
        # Every run keeps its meaning: old text read by main == new text read by lossmask v3
        # (a file launched alone is a stack of one).
        old, new = tomllib.loads(before), tomllib.loads(after)
        assert _meaning(compose([((), old)]), MAIN) == _meaning(compose([((), new)]), LATEST)
        assert _meaning(compose([((), new)]), LATEST)[0] == "auto"
    # Every stack the tree's launch lines compose trains what it trained.
    assert any(stack["command"] == "sft" for stack in stacks)
    for stack in stacks:
        nested = [tuple((layer["nested_under"] or "").split(".")) for layer in stack["layers"]]
        nested = [() if at == ("",) else at for at in nested]
        paths = [layer["path"] for layer in stack["layers"]]
        old = compose([(at, originals[path]) for at, path in zip(nested, paths, strict=True)])
        new = compose(
            [
                (at, tomllib.loads(Path(path).read_text()))
                for at, path in zip(nested, paths, strict=True)
            ]
        )
        if not sft_sections(old):
            assert old == new  # an rl, trainer or inference launch: untouched
            continue
        assert _meaning(old, MAIN) == _meaning(new, LATEST), stack
    moe = (tree_copy / "examples/vlm_sft_moe/sft.toml").read_text()
    assert moe == (TREE / "examples/vlm_sft_moe/sft.toml").read_text().replace(
        "seq_len = 16384\n\n[data.loss_mask]\nsystem = false\nuser = false\nassistant = true\n"
        "tool = false\n",
        "seq_len = 16384\n"
        '# lossmask migrate: prime-rl main (#2988) read the role table as "sampled"\n'
        'loss_mask = "sampled"\n',
    )
    # The result is lossmask's latest schema: nothing left to do, and it validates as such.
    again = run_cli(["migrate", "--reader", "lossmask", "--check", str(tree_copy)])
    assert again.exit_code == 1  # only slim_sft.toml, still undecided
    assert "0 files would be migrated" in again.stderr
    assert run_cli(["validate", "--reader", "lossmask", str(tree_copy)]).exit_code == 0


def test_role_tables_main_reads_as_content_roles_are_written_in_v3_words(tmp_path: Path) -> None:
    for name in ("tool_bodies.toml", "user_bodies.toml"):
        shutil.copy(MAIN_CONFIGS / name, tmp_path / name)
    result = run_cli(["migrate", "--reader", "prime-rl-main", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tool = (tmp_path / "tool_bodies.toml").read_text()
    assert tool.endswith(
        'seq_len = 4096\n# lossmask migrate: prime-rl main (#2988) read the role table as "sampled"'
        ' + these bodies\nloss_mask = "sampled"\ncontent_roles = ["tool"]\n\n\n' + RENDERER_BLOCK
    )
    user = (tmp_path / "user_bodies.toml").read_text()
    assert user.endswith(
        "seq_len = 4096\n# lossmask migrate: prime-rl main (#2988) trains these messages' bodies\n"
        'content_roles = ["user"]\n\n[data.loss_mask]\nassistant = false\nuser = true\n\n'
        + RENDERER_BLOCK
    )
    for name, expected in (
        ("tool_bodies.toml", MaskMeaning("sampled", ("tool",))),
        ("user_bodies.toml", MaskMeaning((), ("user",))),
    ):
        old = tomllib.loads((MAIN_CONFIGS / name).read_text())
        new = tomllib.loads((tmp_path / name).read_text())
        assert section_meaning(old["data"], MAIN) == expected
        assert section_meaning(new["data"], LATEST) == expected
