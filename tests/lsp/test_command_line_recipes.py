"""The command lines of docs/editors.md, run as written in the repository the page assumes.

Not opt-in: `taplo` and `tombi` (their command-line tools) are dev dependencies, and `lossmask`
is this package. Each check command must pass a valid config and fail one with a bad role, which
shows it found the schema the way the page says.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lossmask.schema.jsonschema import render_schema
from lossmask.schema.versions import LATEST_VERSION
from tests.lsp.recipes import SCHEMA_NAME, layout, recipe, shell_commands

USER_COMMANDS = ("lossmask schema", "taplo lint", "tombi lint")
VALID = "max_steps = 300\n\n[data]\nloss_mask = { assistant = true, tool = false }\n"
BAD_ROLE = "max_steps = 300\n\n[data.loss_mask]\nassistnt = true\n"


def _commands(program: str) -> list[str]:
    found = [command for command in shell_commands() if command.startswith(program)]
    assert found, f"docs/editors.md shows no `{program}` command"
    return found


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The page's commands name the tools as a user types them: find them beside this Python.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )


def test_lossmask_schema_writes_the_checked_in_schema(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    for command in _commands("lossmask schema"):
        done = _run(command, tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "schemas" / SCHEMA_NAME).read_text() == render_schema(LATEST_VERSION)


@pytest.mark.parametrize(
    ("program", "config_file"),
    [("taplo lint", "# .taplo.toml"), ("tombi lint", "# tombi.toml")],
)
def test_check_commands_find_the_schema(tmp_path: Path, program: str, config_file: str) -> None:
    layout(tmp_path)
    name = config_file.removeprefix("# ")
    (tmp_path / name).write_text(recipe(config_file), encoding="utf-8")
    config = tmp_path / "configs" / "sft.toml"
    for command in _commands(program):
        config.write_text(VALID, encoding="utf-8")
        done = _run(command, tmp_path)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        config.write_text(BAD_ROLE, encoding="utf-8")
        done = _run(command, tmp_path)
        assert done.returncode != 0, f"{command} passed a bad role"
        assert "assistnt" in done.stdout + done.stderr, command


def test_every_user_command_on_the_page_is_run_here() -> None:
    shown = [
        command
        for command in shell_commands()
        if not command.startswith(("python ", "npm ", "NODE_PATH="))
    ]
    assert all(command.startswith(USER_COMMANDS) for command in shown), shown
