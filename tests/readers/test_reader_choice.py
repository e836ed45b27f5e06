"""How a command picks its reader: `--reader` / `--schema-version`, else `[tool.lossmask]`, else
prime-rl main; and every command says which reading it followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lossmask.readers import (
    DEFAULT_READER,
    PRIME_RL_MAIN,
    ReaderChoiceError,
    Reading,
    choose_reading,
    lossmask_reading,
)
from lossmask.readers.registry import LOSSMASK, PRIME_RL_PRE_2988
from lossmask.schema.versions import LATEST_VERSION
from tests.cli_runner import run_cli

SAMPLED = '[renderer]\nname = "glm-4.5"\n\n[data]\nname = "org/x"\nloss_mask = "sampled"\n'


def test_the_default_is_prime_rl_main() -> None:
    assert DEFAULT_READER is PRIME_RL_MAIN
    assert choose_reading() == Reading(PRIME_RL_MAIN, 1)


def test_options_win_over_the_project_and_a_version_names_lossmask_s_reader() -> None:
    assert choose_reading("lossmask", project_reader="prime-rl-main") == lossmask_reading()
    assert choose_reading(None, 2, project_reader="prime-rl-main") == Reading(LOSSMASK, 2)
    assert choose_reading(project_reader="lossmask", project_version=2) == Reading(LOSSMASK, 2)
    assert choose_reading("lossmask", project_version=2) == Reading(LOSSMASK, 2)
    # Version 1 is prime-rl's reading before #2988: one reading, two spellings.
    assert choose_reading(None, 1) == choose_reading("prime-rl-pre-2988")
    assert choose_reading(None, 1).reader is PRIME_RL_PRE_2988
    assert choose_reading(project_version=LATEST_VERSION) == lossmask_reading()


@pytest.mark.parametrize(
    ("reader", "version"), [("prime-rl-main", 2), ("prime-rl-pre-2988", 3), ("nope", None)]
)
def test_a_reading_that_does_not_exist_is_refused(reader: str, version: int | None) -> None:
    with pytest.raises(ReaderChoiceError):
        choose_reading(reader, version)


def _project(root: Path, table: str) -> None:
    (root / "pyproject.toml").write_text(table)
    (root / "sft.toml").write_text(SAMPLED)


def test_validate_follows_tool_lossmask_and_the_built_in_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, "[tool.lossmask]\nwarnings-as-errors = false\n")  # no reader: the default
    default = run_cli(["validate", "sft.toml"])
    assert default.exit_code == 1
    assert default.stderr.splitlines()[0].startswith(
        'sft.toml:6: data.loss_mask: prime-rl main rejects loss_mask = "sampled"'
    )
    assert default.stderr.splitlines()[-1] == "0 files valid, 1 invalid (read as prime-rl main)"
    _project(tmp_path, '[tool.lossmask]\nreader = "lossmask"\n')
    chosen = run_cli(["validate", "sft.toml"])
    assert (chosen.exit_code, chosen.stderr) == (0, "1 file valid (read as lossmask schema v3)\n")
    told = run_cli(["validate", "--reader", "prime-rl-main", "sft.toml"])
    assert told.exit_code == 1


def test_a_wrong_reader_in_tool_lossmask_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, '[tool.lossmask]\nreader = "prime-rl"\n')
    result = run_cli(["validate", "sft.toml"])
    assert result.exit_code == 2
    assert result.stderr == (
        "pyproject.toml:2: tool.lossmask.reader: unknown reader 'prime-rl' (did you mean "
        '"prime-rl-main"? readers are prime-rl-main, prime-rl-pre-2988, lossmask)\n'
    )


@pytest.mark.parametrize("command", ["validate", "migrate", "show", "audit", "schema", "train"])
def test_every_command_takes_reader_and_refuses_a_reading_that_does_not_exist(
    command: str,
) -> None:
    assert "--reader" in run_cli([command, "--help"]).stdout
    if command in ("validate", "migrate"):
        bad = run_cli([command, "--reader", "prime-rl-main", "--schema-version", "2", "x.toml"])
        assert bad.exit_code == 2
        assert "schema version 2 is a version of lossmask's own schema" in bad.output
