"""Shared test helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real prime-rl configs, carried unchanged in the repository (see tests/corpus/PROVENANCE.md) so a
# bare clone tests itself; LOSSMASK_CORPUS points at another copy.
CORPUS = Path(os.environ.get("LOSSMASK_CORPUS", REPO_ROOT / "tests" / "corpus" / "prime-rl"))
# Test data, not tests: the prime-rl tree carries prime-rl's own Python files (and tests).
collect_ignore = ["corpus"]


def executable(name: str) -> str:
    """The console script `name` installed beside the running interpreter, not the one on PATH.

    Tests then use the venv's `lossmask`, `taplo` and `tombi` even when the venv is not activated
    (`.venv/bin/python -m pytest`). Fails, naming the extra that brings it, when it is missing.
    """
    # Not resolved: a venv's `python` is a link to the base interpreter, whose directory holds
    # none of the venv's scripts.
    path = Path(sys.executable).parent / (name + (".exe" if os.name == "nt" else ""))
    if not path.is_file():
        pytest.fail(f"`{name}` is not installed beside {sys.executable}; `pip install -e '.[dev]'`")
    return str(path)


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the prime-rl corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture
def toml_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of configs with the shapes discovery must handle; the test runs inside it."""
    for name in [
        "b.toml",
        "a.toml",
        "x.txt",
        "sub/z.toml",
        "sub/deeper/y.toml",
        "a-dir/c.toml",
        ".hidden/h.toml",
        "node_modules/n.toml",
        "venv/v.toml",
        "sub/.x.toml",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "link.toml").symlink_to(tmp_path / "a.toml")
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "missing.toml")
    (tmp_path / "linked-dir").symlink_to(tmp_path / "sub")
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "dir.toml" / "inside.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Every file a test writes under pytest's temporary directory belongs to a project whose configs
# are written for lossmask's own schema, as this repository's are (its pyproject.toml says
# `[tool.lossmask] reader = "lossmask"`). The tests of prime-rl main's and the pre-#2988 reading
# name their reader (`--reader`), and tests/readers/test_reader_choice.py checks the built-in
# default from a directory with a `[tool.lossmask]` of its own.
LOSSMASK_PROJECT = '[tool.lossmask]\nreader = "lossmask"\n'


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_are_a_lossmask_project(tmp_path_factory: pytest.TempPathFactory) -> None:
    (tmp_path_factory.getbasetemp() / "pyproject.toml").write_text(LOSSMASK_PROJECT)


# How `lossmask migrate` ends its summary for files read as prime-rl before #2988.
PRE_2988_SUMMARY = " (read as prime-rl before #2988, schema v1; written as lossmask schema v3)"
