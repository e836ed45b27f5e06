"""Every golden example through the Python API and through the real CLI, with exact messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lossmask.errors import ConfigError
from lossmask.readers import lossmask_reading
from lossmask.schema import check_config, load_config
from tests.cli_runner import run_cli
from tests.conftest import executable
from tests.schema.golden import INVALID, VALID, Example


@pytest.fixture(autouse=True)
def _in_example_dir(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages name the file as given; run from its folder so expected files hold bare names.
    example = (
        request.node.callspec.params.get("example") if hasattr(request.node, "callspec") else None
    )
    if example is not None:
        monkeypatch.chdir(example.path.parent)


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.id)
def test_valid_example_api(example: Example) -> None:
    report = check_config(example.path.name, example.version)
    assert [w.format() for w in report.warnings] == example.expected(".warnings.txt")


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.id)
def test_invalid_example_api(example: Example) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(example.path.name, example.version)
    assert str(caught.value).splitlines() == example.expected(".errors.txt")
    first = caught.value.problems[0]
    assert caught.value.file == example.path.name
    assert caught.value.line == first.line


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.id)
def test_valid_example_cli(example: Example) -> None:
    result = run_cli(["validate", "--schema-version", str(example.version), example.path.name])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[:-1] == example.expected(".warnings.txt")
    assert lines[-1] == f"1 file valid (read as {lossmask_reading(example.version).label})"


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.id)
def test_invalid_example_cli(example: Example) -> None:
    result = run_cli(
        ["validate", "-q", "--schema-version", str(example.version), example.path.name]
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == example.expected(".errors.txt")


@pytest.mark.parametrize("example", VALID + INVALID, ids=lambda e: e.id)
def test_validation_never_modifies_input(example: Example) -> None:
    before = example.path.read_bytes()
    stat_before = os.stat(example.path)
    run_cli(["validate", "--schema-version", str(example.version), example.path.name])
    with pytest.raises(ConfigError) if example in INVALID else _no_error():
        check_config(example.path.name, example.version)
    assert example.path.read_bytes() == before
    assert os.stat(example.path).st_mtime_ns == stat_before.st_mtime_ns


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_validate_as_a_real_process() -> None:
    """The installed entry point and `python -m lossmask` behave as the in-process runner."""
    invalid = next(e for e in INVALID if e.path.stem == "mode-typo")
    for argv in ([executable("lossmask")], [sys.executable, "-m", "lossmask"]):
        done = subprocess.run(
            [*argv, "validate", invalid.path.name],
            cwd=invalid.path.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1
        assert done.stderr.splitlines()[0] == invalid.expected(".errors.txt")[0]
