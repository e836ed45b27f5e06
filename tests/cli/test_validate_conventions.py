"""`lossmask validate` follows the conventions of black and ruff: stdin, output formats,
warnings as errors, and one spelling of the schema version on every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossmask.schema.jsonschema import render_schema
from tests.cli_runner import run_cli

GOOD = '[data]\nloss_mask = "sampled"\n'
BAD = '[data]\nloss_mask = "sampeld"\n'
# Valid, with one warning: v2 changed what a data section without loss_mask trains.
WARNS = "[data]\nbatch_size = 8\n"
BAD_MESSAGE = 'must be "sampled", "all" or a table of roles, not "sampeld"'
WARNING_MESSAGE = (
    'no loss_mask: schema version 3 trains "sampled" tokens here, where version 1 trained '
    "assistant messages only"
)
WARNING_HINT = (
    'run `lossmask migrate` to keep the old meaning, or set loss_mask = "sampled" to accept the '
    "new one"
)


@pytest.fixture(autouse=True)
def _inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _write(name: str, text: str) -> str:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(text, encoding="utf-8")
    return name


def test_stdin_is_reported_under_its_stdin_filename() -> None:
    result = run_cli(["validate", "-", "--stdin-filename", "configs/sft.toml"], input=BAD)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f'configs/sft.toml:2: data.loss_mask: {BAD_MESSAGE} (did you mean "sampled"?)',
        "0 files valid, 1 invalid (read as lossmask schema v3)",
    ]


def test_stdin_without_a_name_and_alongside_files() -> None:
    _write("good.toml", GOOD)
    result = run_cli(["validate", "good.toml", "-"], input="[data\n")
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("<stdin>:1: invalid TOML: ")
    assert result.stderr.splitlines()[-1] == "1 file valid, 1 invalid (read as lossmask schema v3)"


def test_json_format_is_one_document_on_stdout_and_nothing_on_stderr() -> None:
    _write("bad.toml", BAD)
    _write("warns.toml", WARNS)
    result = run_cli(["validate", "--format", "json", "bad.toml", "warns.toml"])
    assert result.exit_code == 1
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["exit_code"] == 1
    assert (report["reader"], report["schema_version"]) == ("lossmask", 3)
    assert report["summary"] == {
        "valid": 1,
        "skipped": 0,
        "invalid": 1,
        "unreadable": 0,
        "warnings": 1,
        "warnings_as_errors": False,
        "text": "1 file valid, 1 invalid (read as lossmask schema v3)",
    }
    [bad, warns] = report["files"]
    assert (bad["path"], bad["status"], bad["warnings"]) == ("bad.toml", "invalid", [])
    assert bad["errors"] == [
        {
            "file": "bad.toml",
            "line": 2,
            "key": "data.loss_mask",
            "severity": "error",
            "message": BAD_MESSAGE,
            "suggestion": 'did you mean "sampled"?',
            "text": f'bad.toml:2: data.loss_mask: {BAD_MESSAGE} (did you mean "sampled"?)',
        }
    ]
    assert (warns["status"], warns["errors"]) == ("valid", [])
    assert [w["message"] for w in warns["warnings"]] == [WARNING_MESSAGE]


def test_github_format_writes_annotations() -> None:
    _write("bad.toml", BAD)
    _write("warns.toml", WARNS)
    result = run_cli(["validate", "--format", "github", "bad.toml", "warns.toml"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "::error file=bad.toml,line=2,title=lossmask validate%3A data.loss_mask::"
        f'{BAD_MESSAGE} (did you mean "sampled"?)',
        "::warning file=warns.toml,line=1,title=lossmask validate%3A data::"
        f"{WARNING_MESSAGE} ({WARNING_HINT})",
    ]
    assert result.stderr == "1 file valid, 1 invalid (read as lossmask schema v3)\n"


def test_warnings_as_errors_exits_1_on_a_warning() -> None:
    _write("warns.toml", WARNS)
    assert run_cli(["validate", "warns.toml"]).exit_code == 0
    result = run_cli(["validate", "--warnings-as-errors", "-q", "warns.toml"])
    assert result.exit_code == 1
    # Quiet hides warnings, except the ones that now fail the run.
    assert result.stderr == f"warns.toml:1: data: warning: {WARNING_MESSAGE} ({WARNING_HINT})\n"
    github = run_cli(["validate", "--warnings-as-errors", "--format", "github", "warns.toml"])
    assert github.stdout.startswith("::error file=warns.toml,line=1,")


def test_pyproject_settings_apply_and_the_command_line_wins() -> None:
    _write("pyproject.toml", "[tool.lossmask]\nwarnings-as-errors = true\nschema-version = 1\n")
    _write("configs/warns.toml", WARNS)
    _write("configs/v2.toml", GOOD)
    result = run_cli(["validate", "configs"])
    # Schema version 1: the string mode is an error there; no v2 meaning warning.
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1]
        == "1 file valid, 1 invalid (read as prime-rl before #2988, schema v1)"
    )
    result = run_cli(["validate", "--schema-version", "2", "configs"])
    assert result.exit_code == 1  # warnings-as-errors from pyproject.toml
    assert result.stderr.splitlines()[-1] == (
        "2 files valid, 1 warning (treated as errors) (read as lossmask schema v2)"
    )


def test_a_wrong_tool_lossmask_table_exits_2_naming_file_line_and_key() -> None:
    _write("pyproject.toml", '[project]\nname = "x"\n\n[tool.lossmask]\nexclud = ["rl.toml"]\n')
    _write("sft.toml", GOOD)
    result = run_cli(["validate", "sft.toml"])
    assert result.exit_code == 2
    assert result.stderr == (
        'pyproject.toml:5: tool.lossmask.exclud: unknown key (did you mean "exclude"? known keys '
        "are reader, schema-version, include, exclude, extend-exclude, warnings-as-errors, "
        "respect-gitignore)\n"
    )


def test_schema_version_is_one_name_on_every_command() -> None:
    _write("legacy.toml", WARNS)
    schema = run_cli(["schema", "--schema-version", "1"])
    assert (schema.exit_code, schema.stdout) == (0, render_schema(1))
    old = run_cli(["schema", "--version", "1"])
    assert (old.exit_code, old.stdout) == (0, render_schema(1))
    assert old.stderr == "lossmask: --version is deprecated; use --schema-version\n"
    both = run_cli(["schema", "--schema-version", "2", "--version", "1"])
    assert both.stdout == render_schema(2)
    for flag in ("--schema-version", "--from"):
        migrate = run_cli(["migrate", "--check", flag, "1", "legacy.toml"])
        assert migrate.exit_code == 1
    assert "--from" not in run_cli(["migrate", "--help"]).stdout
    assert "--version" not in run_cli(["schema", "--help"]).stdout
