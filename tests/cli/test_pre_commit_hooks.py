"""Each hook of `.pre-commit-hooks.yaml`, run as pre-commit runs it: its real `entry` and `args`,
on the files its `files`/`exclude` patterns select, through the installed console script."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, executable

GOOD = '[data]\nloss_mask = "sampled"\n'
BAD = '[data]\nloss_mask = "sampeld"\n'
# A legacy config: no loss_mask, so v1 trained assistant messages only. It names its dataset, so
# it is a run of its own, not an overlay whose meaning depends on how it is launched.
LEGACY = '[data]\nname = "org/tool-sft"\nbatch_size = 8\n'
MIGRATED = (
    LEGACY
    + '\n# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
    + "[data.loss_mask]\nsystem = false\nuser = false\nassistant = true\ntool = false\n"
)


def _hooks() -> dict[str, dict[str, Any]]:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in hooks}


@dataclass
class Run:
    returncode: int
    stderr: str
    selected: list[str]


def _run_hook(hook_id: str, files: dict[str, str], root: Path) -> Run:
    """Write `files` under `root` and run the hook as pre-commit would on all of them."""
    hook = _hooks()[hook_id]
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    # pre-commit matches `files` and `exclude` with re.search on the path from the repo root.
    selected = [
        name
        for name in sorted(files)
        if re.search(hook["files"], name) and not re.search(hook.get("exclude", "^$"), name)
    ]
    program, *entry_args = shlex.split(hook["entry"])
    command = [executable(program), *entry_args, *hook.get("args", []), *selected]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    return Run(done.returncode, done.stderr, selected)


def test_every_hook_is_tested() -> None:
    assert set(_hooks()) == {"lossmask-validate", "lossmask-migrate", "lossmask-migrate-check"}


def test_hooks_skip_tool_configs(tmp_path: Path) -> None:
    for hook_id in _hooks():
        run = _run_hook(hook_id, {"pyproject.toml": "[project]\n", "sft.toml": GOOD}, tmp_path)
        assert run.selected == ["sft.toml"]


def test_validate_hook_passes_a_good_config(tmp_path: Path) -> None:
    run = _run_hook("lossmask-validate", {"configs/sft.toml": GOOD}, tmp_path)
    assert run.returncode == 0, run.stderr


def test_validate_hook_fails_a_bad_config(tmp_path: Path) -> None:
    run = _run_hook("lossmask-validate", {"good.toml": GOOD, "bad.toml": BAD}, tmp_path)
    assert run.returncode == 1
    assert run.stderr.splitlines()[0] == (
        'bad.toml:2: data.loss_mask: must be "sampled", "all" or a table of roles, not "sampeld" '
        '(did you mean "sampled"?)'
    )


def test_validate_hook_honours_tool_lossmask_excludes(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[tool.lossmask]\nreader = "lossmask"\nextend-exclude = ["rl/"]\n',
        "rl/bad.toml": BAD,
        "sft.toml": GOOD,
    }
    run = _run_hook("lossmask-validate", files, tmp_path)
    assert run.selected == ["rl/bad.toml", "sft.toml"]
    assert run.returncode == 0, run.stderr
    assert run.stderr == "1 file valid (read as lossmask schema v3)\n"


# The migrate hooks follow [tool.lossmask] reader: here, configs written before prime-rl #2988.
PRE_2988_PROJECT = '[tool.lossmask]\nreader = "prime-rl-pre-2988"\n'


def test_migrate_hook_rewrites_a_legacy_config_and_keeps_a_good_one(tmp_path: Path) -> None:
    files = {"pyproject.toml": PRE_2988_PROJECT, "legacy.toml": LEGACY, "good.toml": GOOD}
    run = _run_hook("lossmask-migrate", files, tmp_path)
    # pre-commit fails the commit on its own when a hook modified a file.
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "legacy.toml").read_text(encoding="utf-8") == MIGRATED
    assert (tmp_path / "good.toml").read_text(encoding="utf-8") == GOOD


@pytest.mark.parametrize(("text", "code"), [(GOOD, 0), (LEGACY, 1), (MIGRATED, 0)])
def test_migrate_check_hook_fails_only_on_a_legacy_default(
    tmp_path: Path, text: str, code: int
) -> None:
    run = _run_hook(
        "lossmask-migrate-check", {"pyproject.toml": PRE_2988_PROJECT, "sft.toml": text}, tmp_path
    )
    assert run.returncode == code, run.stderr
    assert (tmp_path / "sft.toml").read_text(encoding="utf-8") == text
