"""CLI behaviour that is not about a single example: exit codes, mixed inputs, version, schema."""

from __future__ import annotations

import json
from pathlib import Path

from lossmask import __version__
from lossmask.schema.jsonschema import render_schema
from tests.cli_runner import run_cli


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.exit_code == 0
    assert result.output == f"lossmask, version {__version__}\n"


def test_unreadable_file_exits_2_and_other_files_are_still_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[data]\nloss_mask = "sampled"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\nloss_mask = "sample"\n')
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[model]\nname = "caf\xe9"\n')
    missing = tmp_path / "missing.toml"
    result = run_cli(
        ["validate", "--reader", "lossmask", str(missing), str(bad), str(latin1), str(good)]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{missing}: cannot read: No such file or directory",
        f'{bad}:2: data.loss_mask: must be "sampled", "all" or a table of roles, not "sample" '
        '(did you mean "sampled"?)',
        f"{latin1}:2: not UTF-8 text (byte 0xe9 at offset 19) "
        "(TOML files must be UTF-8; re-save the file as UTF-8)",
        "1 file valid, 1 invalid, 2 unreadable (read as lossmask schema v3)",
    ]


def test_directories_are_walked_for_toml_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.toml").write_text('[data]\nloss_mask = "all"\n')
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "ignored.toml").write_text("not toml at all [")
    (tmp_path / "notes.txt").write_text("not a config")
    result = run_cli(["validate", "--reader", "lossmask", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "1 file valid (read as lossmask schema v3)\n"


def test_usage_error_exits_2() -> None:
    assert run_cli(["validate"]).exit_code == 2
    assert run_cli(["validate", "--schema-version", "4", "x.toml"]).exit_code == 2
    assert run_cli(["schema", "--version", "9"]).exit_code == 2


def test_schema_prints_and_writes(tmp_path: Path) -> None:
    printed = run_cli(["schema", "--version", "1"])
    assert printed.exit_code == 0
    assert printed.stdout == render_schema(1)
    target = tmp_path / "schema.json"
    written = run_cli(["schema", "--output", str(target)])
    assert written.exit_code == 0
    assert target.read_text() == render_schema(3)
    assert json.loads(target.read_text())["title"] == "lossmask SFT config, schema version 3"


def test_schema_to_unwritable_place_exits_2(tmp_path: Path) -> None:
    result = run_cli(["schema", "--output", str(tmp_path / "no" / "such.json")])
    assert result.exit_code == 2
    assert "such.json" in result.output
