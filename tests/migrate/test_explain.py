"""`lossmask migrate --explain FILE` on the golden launch trees: exact output, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.migrate.test_launch_cases import CASES, _files

# The trees are configs written for prime-rl before #2988 (launch_cases/*/case.toml).
READER = ["--reader", "prime-rl-pre-2988"]
PRE_2988 = "(read as prime-rl before #2988, schema v1)"
LATEST = "(read as lossmask schema v3)"
UNRESOLVED_LAUNCH = (
    "the launch at train.sh:1 (`sft @ $CFG_DIR/base.toml @ $CFG_DIR/over.toml`) cannot be "
    "resolved: `$CFG_DIR/base.toml`, `$CFG_DIR/over.toml`: $CFG_DIR is not set in this file"
)
EXPLAINED = {
    ("shell-export-default", "configs/over.toml"): [
        "configs/over.toml",
        "  in stack `sft @ configs/base.toml @ configs/over.toml` (from scripts/train.sh:4)",
        "    [data] loss_mask set by configs/base.toml: trains roles(user, assistant) on the chat "
        f"template before {PRE_2988}, roles(user, assistant) on the chat template after {LATEST}: "
        "the same",
        "  not rewritten: every stack it is in trains the same under lossmask's latest schema",
    ],
    ("github-literal-env-working-directory", "configs/base.toml"): [
        "configs/base.toml",
        "  in stack `sft @ configs/base.toml @ configs/over.toml` "
        "(from .github/workflows/train.yml:12)",
        "    [data] loss_mask set by no layer: trains roles(assistant) on the chat template before "
        f"{PRE_2988}, roles(assistant) on the chat template after {LATEST}: the same",
        "  would be rewritten (by `lossmask migrate`): data.loss_mask: added the v1 default "
        "explicitly (assistant only)",
    ],
    ("unresolved-variable", "configs/base.toml"): [
        "configs/base.toml",
        "  in no stack found: judged as launched alone (`sft @ FILE`)",
        "    [data] loss_mask set by no layer: trains roles(assistant) on the chat template before "
        f'{PRE_2988}, "sampled" on the chat template after {LATEST}: CHANGED',
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
    result = run_cli(["migrate", *READER, "--explain", file])
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
    report = json.loads(run_cli(["migrate", *READER, "--check", "--format", "json", "."]).stdout)
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


def test_explain_words_the_reader_s_meaning(tree) -> None:
    """Under prime-rl main the same stack means what main trains: "sampled" plus the bodies of
    the roles set true; over.toml relies on main's seq_len, so it is refused, and said why."""
    tree("shell-export-default")
    result = run_cli(["migrate", "--reader", "prime-rl-main", "--explain", "configs/over.toml"])
    assert result.stdout.splitlines() == [
        "configs/over.toml",
        "  in stack `sft @ configs/base.toml @ configs/over.toml` (from scripts/train.sh:4)",
        '    [data] loss_mask set by configs/base.toml: trains "sampled" + the body of user '
        "messages on renderer auto before (read as prime-rl main), roles(user, assistant) on the "
        f"chat template after {LATEST}: CHANGED",
        "  not rewritten: configs/over.toml:1: data: not migrated: absent, this key is 128 to "
        "prime-rl main and 2048 to lossmask's schema (write seq_len = 128 to keep main's run)",
    ]
