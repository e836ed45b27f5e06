"""`lossmask migrate --explain FILE` on the golden launch trees: exact output, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.migrate.test_launch_cases import CASES, _files

UNRESOLVED_LAUNCH = (
    "the launch at train.sh:1 (`sft @ $CFG_DIR/base.toml @ $CFG_DIR/over.toml`) cannot be "
    "resolved: `$CFG_DIR/base.toml`, `$CFG_DIR/over.toml`: $CFG_DIR is not set in this file"
)
EXPLAINED = {
    ("shell-export-default", "configs/over.toml"): [
        "configs/over.toml",
        "  in stack `sft @ configs/base.toml @ configs/over.toml` (from scripts/train.sh:4)",
        "    [data] loss_mask set by configs/base.toml: trains roles(user, assistant) before "
        "(schema v1), roles(user, assistant) after (schema v2): the same",
        "  not rewritten: every stack it is in trains the same under schema v2 as it is",
    ],
    ("github-literal-env-working-directory", "configs/base.toml"): [
        "configs/base.toml",
        "  in stack `sft @ configs/base.toml @ configs/over.toml` "
        "(from .github/workflows/train.yml:12)",
        "    [data] loss_mask set by no layer: trains roles(assistant) before (schema v1), "
        "roles(assistant) after (schema v2): the same",
        "  would be rewritten (by `lossmask migrate`): data.loss_mask: added the v1 default "
        "explicitly (assistant only)",
    ],
    ("unresolved-variable", "configs/base.toml"): [
        "configs/base.toml",
        "  in no stack found: judged as launched alone (`sft @ FILE`)",
        "    [data] loss_mask set by no layer: trains roles(assistant) before (schema v1), "
        '"sampled" after (schema v2): CHANGED',
        f"  may be composed by {UNRESOLVED_LAUNCH}",
        "  not rewritten: meaning depends on how it is launched (a launch that cannot be resolved "
        'may compose it, see above); `--stack "@ ... @ configs/base.toml"` or `--standalone '
        "configs/base.toml` settles it",
    ],
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def copy(case: str) -> Path:
        root = tmp_path / case
        shutil.copytree(CASES / case / "before", root)
        (root / ".git").mkdir()
        monkeypatch.chdir(root)
        return root

    return copy


@pytest.mark.parametrize(("case", "file"), list(EXPLAINED), ids=[c for c, _ in EXPLAINED])
def test_explain_says_why(tree, case: str, file: str) -> None:
    root = tree(case)
    before = _files(root)
    result = run_cli(["migrate", "--explain", file])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == EXPLAINED[(case, file)]
    assert _files(root) == before  # --explain writes nothing


def test_explain_of_a_missing_file_exits_2(tree) -> None:
    tree("shell-variable")
    result = run_cli(["migrate", "--explain", "nothere.toml"])
    assert result.exit_code == 2
    assert (
        result.stdout.splitlines()[-1] == "  not rewritten: nothere.toml: no such file or directory"
    )


def test_json_names_the_unresolved_launch_and_what_it_holds_back(tree) -> None:
    tree("unresolved-variable")
    report = json.loads(run_cli(["migrate", "--check", "--format", "json", "."]).stdout)
    assert report["exit_code"] == 1
    assert report["unresolved_launches"] == [
        {
            "file": "train.sh",
            "line": 1,
            "command": "sft",
            "launch": "@ $CFG_DIR/base.toml @ $CFG_DIR/over.toml",
            "reasons": [
                "`$CFG_DIR/base.toml`, `$CFG_DIR/over.toml`: $CFG_DIR is not set in this file"
            ],
            "holds_back": ["configs/base.toml", "configs/over.toml"],
        }
    ]
    held = {f["path"]: f.get("held_by") for f in report["files"] if f["status"] == "undecided"}
    assert held == {
        path: ["held back by the launch at train.sh:1, which cannot be resolved"]
        for path in ("configs/base.toml", "configs/over.toml")
    }
