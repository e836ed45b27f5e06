"""Which files a command looks at when it is given files and directories."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

# Directories no config lives in; walking them is slow and their files are not the user's.
SKIPPED_DIRECTORIES = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__"}
)


def iter_toml_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield files named on the command line as given, and `*.toml` files under directories.

    Directories are walked in sorted order, skipping hidden directories and
    `SKIPPED_DIRECTORIES`, so
    output is stable from run to run. A path that does not exist is yielded as is: the caller
    reports it, in order, like any other unreadable file.
    """
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRECTORIES
            )
            for name in sorted(files):
                if name.endswith(".toml"):
                    yield Path(root) / name
