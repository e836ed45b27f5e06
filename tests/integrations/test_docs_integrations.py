"""docs/integrations.md's console examples print what the commands print.

Each `$ lossmask ...` block whose output the page shows is run here (from the repository root,
writing into a temporary folder) and its output compared line by line with the page's.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations.md"


def console_blocks() -> list[tuple[list[str], list[str]]]:
    """(commands, output lines) of every ```console block that shows output; a command's
    continuation lines (after a trailing backslash) are joined to it."""
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S):
        commands: list[str] = []
        output: list[str] = []
        lines = iter(body.splitlines())
        for line in lines:
            if not line.startswith("$ "):
                output.append(line)
                continue
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + next(lines).strip()
            commands.append(command)
        if output:
            blocks.append((commands, output))
    return blocks


def block_starting(prefix: str) -> tuple[list[str], list[str]]:
    return next(block for block in console_blocks() if block[0][-1].startswith(prefix))


def test_the_export_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands, expected = block_starting("lossmask export examples/")
    args = shlex.split(commands[-1])[1:]
    args[args.index("-o") + 1] = str(tmp_path / "rows.parquet")
    monkeypatch.chdir(ROOT)
    result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    shown = result.stdout.replace(str(tmp_path / "rows.parquet"), "rows.parquet")
    assert shown.splitlines() == expected


def test_the_diff_example(monkeypatch: pytest.MonkeyPatch) -> None:
    commands, expected = block_starting("lossmask diff examples/")
    monkeypatch.chdir(ROOT)
    result = run_cli(shlex.split(commands[-1])[1:])
    assert result.exit_code == 1, result.stderr
    assert result.stdout.splitlines() == expected


@pytest.mark.slow  # a TRL run in a fresh interpreter: ~25 s on a busy 2-core machine
def test_the_trl_audit_example(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    commands, expected = block_starting("lossmask audit --tokenized trl-rows.parquet")
    prepare = shlex.split(commands[0])
    assert prepare[:2] == ["python", "examples/integrations/trl_prepared_rows.py"]
    done = subprocess.run(
        [sys.executable, str(ROOT / prepare[1]), *prepare[2:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = run_cli(
        ["audit", "--tokenized", str(tmp_path / "trl-rows.parquet"), *shlex.split(commands[1])[4:]]
    )
    assert result.exit_code == 0, result.stderr
    shown = result.stdout.replace(str(tmp_path / "trl-rows.parquet"), "trl-rows.parquet")
    assert shown.splitlines() == expected
