"""bench/migrate_bench.py runs end to end on a small tree (its figures are not checked here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_the_migrate_bench_prints_every_row_and_cleans_up(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / "migrate_bench.py"),
            *("--files", "130", "--repeat", "1", "--big-mb", "1", "2", "--dir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    names = [line.split("  ")[0] for line in done.stdout.splitlines()]
    for row in (
        "--check, migrated, -j1",
        "write, legacy, -j1",
        "write, one 1 MB file",
        "write, one 2 MB file",
    ):
        assert row in names, done.stdout
    assert "130 files in " in done.stdout and ", 0 errors" in done.stdout
    for size in (1, 2):
        assert f"peak memory (max RSS) of the {size} MB file's processes: migrate " in done.stdout
    assert list(tmp_path.iterdir()) == []  # the generated tree is removed
