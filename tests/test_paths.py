"""Which files commands look at under a directory: exact order, skips and links."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lossmask.paths import LaunchFile, UnlistedDirectory, iter_toml_files, walk, walk_toml_files
from tests.conftest import REPO_ROOT


def test_walk_is_sorted_depth_first_and_skips_hidden_vendored_and_linked_dirs(
    toml_tree: Path,
) -> None:
    # A directory's own files (sorted) come before its subdirectories (sorted, depth first).
    assert walk_toml_files(".") == [
        ("a.toml", False),
        ("b.toml", False),
        ("dangling.toml", True),  # listed; the command reports it
        ("link.toml", True),
        ("a-dir/c.toml", False),
        ("dir.toml/inside.toml", False),
        ("sub/.x.toml", False),  # hidden *files* are configs too; hidden directories are skipped
        ("sub/z.toml", False),
        ("sub/deeper/y.toml", False),
    ]
    assert walk_toml_files(f"{toml_tree}/sub/") == [
        (f"{toml_tree}/sub/.x.toml", False),
        (f"{toml_tree}/sub/z.toml", False),
        (f"{toml_tree}/sub/deeper/y.toml", False),
    ]


def test_named_files_come_first_as_given_even_when_missing(toml_tree: Path) -> None:
    assert list(iter_toml_files(["missing.toml", "x.txt", "sub/deeper"])) == [
        Path("missing.toml"),
        Path("x.txt"),
        Path("sub/deeper/y.toml"),
    ]


def test_a_directory_that_cannot_be_listed_takes_its_place_in_the_walk(tmp_path: Path) -> None:
    # Permissions bind only without root's override: as root the walk runs under setpriv with
    # CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped.
    for name in ("a.toml", "locked/hidden.toml", "z/b.toml", ".github/ci.yml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "locked").chmod(0)
    (tmp_path / ".github").chmod(0)  # searched for launch lines only: nothing to report there
    command = [
        sys.executable,
        "-c",
        "from lossmask.paths import walk, walk_toml_files; print(walk_toml_files('.')); "
        "print([entry for listed in walk('.', launch_files=True) for entry in listed])",
    ]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    try:
        done = subprocess.run(
            command,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        (tmp_path / "locked").chmod(0o755)
        (tmp_path / ".github").chmod(0o755)
    walked = [
        ("a.toml", False),
        UnlistedDirectory("locked", "permission denied"),
        ("z/b.toml", False),
    ]
    assert done.stdout == f"{walked!r}\n{walked!r}\n"


def test_one_walk_lists_configs_and_launch_files_directory_by_directory(toml_tree: Path) -> None:
    for name in [
        "run.sh",
        "Makefile",
        "README.md",
        "sub/train.yaml",
        ".github/workflows/ci.yml",
        ".github/workflows/not-a-config.toml",  # CI directories are searched for launches only
        ".hidden/launch.sh",  # other hidden directories are not searched at all
        "node_modules/pkg/run.sh",
    ]:
        (toml_tree / name).parent.mkdir(parents=True, exist_ok=True)
        (toml_tree / name).write_text("")
    assert list(walk(".", launch_files=True)) == [
        [
            LaunchFile("Makefile"),
            LaunchFile("README.md"),
            ("a.toml", False),
            ("b.toml", False),
            ("dangling.toml", True),
            ("link.toml", True),
            LaunchFile("run.sh"),
        ],
        [LaunchFile(".github/workflows/ci.yml")],
        [("a-dir/c.toml", False)],
        [("dir.toml/inside.toml", False)],
        [("sub/.x.toml", False), LaunchFile("sub/train.yaml"), ("sub/z.toml", False)],
        [("sub/deeper/y.toml", False)],
    ]
    # Without launch files the same walk is the configs' walk, and skips .github entirely.
    assert [entry for listed in walk(".") for entry in listed] == walk_toml_files(".")
    assert not any(isinstance(entry, LaunchFile) for entry in walk_toml_files("."))
    assert ("a.toml", False) in walk_toml_files(".")
