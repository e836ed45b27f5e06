"""Stacks found in the tree being migrated: launch lines in scripts, CI, docs and comments."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lossmask.config_files.launches import launch_lines
from tests.cli_runner import run_cli
from tests.conftest import PRE_2988_SUMMARY as SOURCE
from tests.migrate.test_stacks import ASSISTANT, _merge, _trains


def _read(text: str, name: str) -> list[tuple[int, str | None, list[tuple[str, str | None]]]]:
    """(line, command, [(nested under, path)]) of each launch read from `text` as file `name`."""
    return [
        (launch.line, launch.command, [(".".join(x.at), x.path) for x in launch.layers])
        for launch in launch_lines(text, name, comments_only=name.endswith(".toml"))
    ]


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (
            "uv run sft @ a.toml @ b.toml\n",
            "run.sh",
            [(1, "sft", [("", "a.toml"), ("", "b.toml")])],
        ),
        (
            "CUDA_VISIBLE_DEVICES=1 uv run sft \\\n  @ a.toml \\\n"
            "  --data @ d.toml --max-steps 5\n",
            "run.sh",
            [(1, "sft", [("", "a.toml"), ("data", "d.toml")])],
        ),
        (
            "# Compose: uv run sft @ a.toml @b.toml\nx = 1  # @ not.toml\n",
            "c.toml",
            [(1, "sft", [("", "a.toml"), ("", "b.toml")])],
        ),
        (
            "- run: uv run rl @ configs/rl.toml && uv run sft @ s.toml\n",
            "ci.yml",
            [(1, "rl", [("", "configs/rl.toml")]), (1, "sft", [("", "s.toml")])],
        ),
        (
            "Run `uv run sft @ a.toml`, mail me@host.toml\n",
            "README.md",
            [(1, "sft", [("", "a.toml")])],
        ),
        ("no launches here\n", "run.sh", []),
    ],
)
def test_launch_lines(text: str, name: str, expected: list[Any]) -> None:
    assert _read(text, name) == expected


PARTIAL_BASE = '[data]\nname = "org/tool-sft"\n\n[data.loss_mask]\nuser = true\n'
TREE = {
    ".git/HEAD": "ref: refs/heads/main\n",
    "configs/base.toml": PARTIAL_BASE,
    "configs/long.toml": "[data]\nseq_len = 8192\n",
    "configs/sampled.toml": '[data]\nname = "x"\nloss_mask = "sampled"\n',
    "configs/plain.toml": '[model]\nname = "m"\n\n[data]\nname = "p"\n',
    "configs/val.toml": '[val.data]\nname = "val"\n',
    "configs/model.toml": '[model]\nname = "m"\n',
    "configs/data/tools.toml": 'name = "org/tools"\nseq_len = 2048\n',
    "configs/ci/slim_sft.toml": '[slurm]\njob_name = "slim"\n',
    "configs/exp/tools.toml": "# Compose: uv run sft @ ../base.toml @ tools.toml\n"
    "[data.loss_mask]\ntool = true\n",
    "configs/rl.toml": "# uv run rl @ configs/rl.toml\n[orchestrator]\nbatch_size = 8\n",
    "configs/solo.toml": '[data]\nname = "s"\n',
    "scripts/train.sh": "#!/bin/sh\nuv run sft @ configs/base.toml @ configs/long.toml\n"
    "uv run sft \\\n  @ configs/sampled.toml @ configs/long.toml\n",
    "Makefile": "tools:\n\tuv run sft @ configs/model.toml --data @ configs/data/tools.toml\n",
    ".github/workflows/ci.yml": "jobs:\n  slim:\n    steps:\n"
    "      - run: uv run sft @ configs/ci/slim_sft.toml\n",
    "README.md": "```bash\nuv run sft @ configs/plain.toml @ configs/val.toml\n```\n"
    "Or `uv run sft @ configs/missing.toml`.\n",
}
# Every stack the tree launches, as the launch composes it.
LAUNCHED = [
    ["configs/base.toml", "configs/long.toml"],
    ["configs/sampled.toml", "configs/long.toml"],
    ["configs/plain.toml", "configs/val.toml"],
    ["configs/model.toml", ("data", "configs/data/tools.toml")],
    ["configs/ci/slim_sft.toml"],
    ["configs/base.toml", "configs/exp/tools.toml"],
    ["configs/solo.toml"],  # not launched anywhere: judged alone
]
LEGACY = "system = false\nuser = false\nassistant = true\ntool = false\n"
MISSING = '# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'


def _compose(root: Path, layers: list[Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for layer in layers:
        at, name = layer if isinstance(layer, tuple) else (None, layer)
        parsed: dict[str, Any] = tomllib.loads((root / name).read_text())
        config = _merge(config, {at: parsed} if at else parsed)
    return config


def test_a_prime_rl_like_tree_keeps_what_every_launch_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    for name, text in TREE.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    shutil.copytree(repo, tmp_path / "old")
    monkeypatch.chdir(tmp_path)

    result = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "repo"])
    assert result.exit_code == 0, result.output
    # TOML comments first (in discovery order), then scripts, docs and CI files, as walked.
    assert result.stderr.splitlines() == [
        "Stack `rl @ repo/configs/rl.toml` (from repo/configs/rl.toml:1)",
        "Stack `sft @ repo/configs/base.toml @ repo/configs/exp/tools.toml` "
        "(from repo/configs/exp/tools.toml:1)",
        "Stack `sft @ repo/configs/model.toml --data @ repo/configs/data/tools.toml` "
        "(from repo/Makefile:2)",
        "Stack `sft @ repo/configs/plain.toml @ repo/configs/val.toml` (from repo/README.md:2)",
        "Stack `sft @ repo/configs/ci/slim_sft.toml` (from repo/.github/workflows/ci.yml:4)",
        "Stack `sft @ repo/configs/base.toml @ repo/configs/long.toml` "
        "(from repo/scripts/train.sh:2)",
        "Stack `sft @ repo/configs/sampled.toml @ repo/configs/long.toml` "
        "(from repo/scripts/train.sh:3)",
        "note: repo/README.md:4: the launch `@ configs/missing.toml` names configs/missing.toml, "
        "which is not a file here; that stack is not used",
        "Rewriting repo/configs/model.toml",
        "Rewriting repo/configs/plain.toml",
        "Rewriting repo/configs/solo.toml",
        "Rewriting repo/configs/ci/slim_sft.toml",
        "4 files migrated, 7 unchanged, 7 stacks" + SOURCE,
    ]
    assert (repo / "configs/plain.toml").read_text() == (
        TREE["configs/plain.toml"]
        + "\n"
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY
        + "\n"
        + MISSING
        + "[val.data.loss_mask]\n"
        + LEGACY
    )
    for layers in LAUNCHED:
        before, after = _compose(tmp_path / "old", layers), _compose(repo, layers)
        assert _trains(after, version=2) == _trains(before, version=1), layers
        assert _trains(after, version=2) != {}
        for config in (before, after):
            for outer in (config, config.get("val", {})):
                if isinstance(outer.get("data"), dict):
                    outer["data"].pop("loss_mask", None)
                    if not outer["data"]:
                        del outer["data"]
            if config.get("val") == {}:
                del config["val"]
        assert after == before, layers
    assert _trains(_compose(repo, LAUNCHED[0]), 2) == {"data": {**ASSISTANT, "user": True}}

    again = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", "repo"])
    assert again.exit_code == 0, again.output
    assert (
        again.stderr.splitlines()[-1]
        == "0 files would be migrated, 11 unchanged, 7 stacks" + SOURCE
    )
