"""Each hook of `.pre-commit-hooks.yaml`, run as pre-commit runs it: its real `entry` and `args`,
on the files its `files`/`exclude` patterns select, through the installed console script."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PRE_2988_SUMMARY, REPO_ROOT, executable

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


# The stack: the overlay names a new dataset and no loss_mask; alone it would gain the
# legacy table and the run would stop training user turns.
BASE = '[data]\nname = "org/ds"\n\n[data.loss_mask]\nuser = true\n'
OVERLAY = '[data]\nname = "org/ds-v2"\n'
LAUNCH = "CFG_DIR=configs\nuv run sft @ $CFG_DIR/base.toml @ $CFG_DIR/over.toml\n"
UNRESOLVED = "uv run sft @ $CFG_DIR/base.toml @ $CFG_DIR/over.toml\n"


def _stack_repo(root: Path, script: str) -> dict[str, str]:
    (root / ".git").mkdir(parents=True, exist_ok=True)  # the top level launches are read from
    return {
        "pyproject.toml": PRE_2988_PROJECT,
        "configs/base.toml": BASE,
        "configs/over.toml": OVERLAY,
        "scripts/train.sh": script,
    }


@pytest.mark.parametrize("hook_id", ["lossmask-migrate", "lossmask-migrate-check"])
def test_migrate_hooks_see_the_stacks_of_the_files_pre_commit_passes(
    tmp_path: Path, hook_id: str
) -> None:
    """pre-commit passes only .toml files; the hook finds scripts/train.sh from the top level."""
    run = _run_hook(hook_id, _stack_repo(tmp_path, LAUNCH), tmp_path)
    assert run.selected == ["configs/base.toml", "configs/over.toml"]
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        "Stack `sft @ configs/base.toml @ configs/over.toml` (from scripts/train.sh:2)",
        f"0 files {'would be ' if 'check' in hook_id else ''}migrated, 2 unchanged, 1 stack"
        + PRE_2988_SUMMARY,
    ]
    assert (tmp_path / "configs/over.toml").read_text(encoding="utf-8") == OVERLAY


def test_migrate_check_hook_fails_on_a_launch_it_cannot_resolve(tmp_path: Path) -> None:
    run = _run_hook("lossmask-migrate-check", _stack_repo(tmp_path, UNRESOLVED), tmp_path)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith("Unresolved launch at scripts/train.sh:1: ")
    # base.toml sets its loss_mask: it trains the same in any stack; over.toml may not.
    assert [line.split(":")[0] for line in lines[1:]] == [
        "Undecided configs/over.toml",
        "0 files would be migrated, 1 unchanged, 1 whose meaning depends on how it is launched"
        + PRE_2988_SUMMARY,
    ]
    assert (tmp_path / "configs/over.toml").read_text(encoding="utf-8") == OVERLAY


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.mark.slow  # each `try-repo` builds the hook's environment with pip: ~20 s
def test_pre_commit_try_repo_sees_the_stack_from_a_launch_script(tmp_path: Path) -> None:
    """The real pre-commit, installing this repository's hooks as a user's project would."""
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    files = _stack_repo(project, LAUNCH)
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    _git(project, "add", "-A")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }

    def try_repo(hook_id: str) -> subprocess.CompletedProcess[str]:
        command = [executable("pre-commit"), "try-repo", str(REPO_ROOT), hook_id, "--all-files"]
        return subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, check=False
        )

    passed = try_repo("lossmask-migrate-check")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "lossmask migrate --check....." in passed.stdout
    assert passed.stdout.rstrip().endswith("Passed")

    (project / "scripts/train.sh").write_text(UNRESOLVED, encoding="utf-8")
    _git(project, "add", "-A")
    failed = try_repo("lossmask-migrate-check")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Unresolved launch at scripts/train.sh:1" in failed.stdout
    assert "Undecided configs/over.toml" in failed.stdout
    assert (project / "configs/over.toml").read_text(encoding="utf-8") == OVERLAY
