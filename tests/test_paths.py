"""Which files commands look at under a directory: exact order, skips and links."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lossmask.paths import UnlistedDirectory, iter_toml_files, walk_toml_files
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
    for name in ("a.toml", "locked/hidden.toml", "z/b.toml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "locked").chmod(0)
    command = [
        sys.executable,
        "-c",
        "from lossmask.paths import walk_toml_files; print(walk_toml_files('.'))",
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
    assert (
        done.stdout
        == repr(
            [
                ("a.toml", False),
                UnlistedDirectory("locked", "permission denied"),
                ("z/b.toml", False),
            ]
        )
        + "\n"
    )
