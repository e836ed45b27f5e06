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

    A path that does not exist is yielded as is: the caller reports it, in order, like any other
    unreadable file.
    """
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        for found, _ in walk_toml_files(str(path)):
            yield Path(found)


def walk_toml_files(top: str) -> list[tuple[str, bool]]:
    """(path, is a symbolic link) of each `*.toml` file under `top`.

    A directory's own files (sorted) come before its subdirectories (sorted, depth first), as
    `os.walk` lists them, skipping hidden directories and `SKIPPED_DIRECTORIES`, never entering
    linked directories (no cycles, nothing outside the tree). Built on `os.scandir` entries, whose
    type is known without a `stat` per file, and a loop instead of nested generators: `migrate`
    discovers files before it splits the work between processes, so this time is never shared out.
    """
    found: list[tuple[str, bool]] = []
    # Paths are written as `str(Path(...))` writes them: normalized once at the top, then joined,
    # except that under "." `Path` drops the leading "./".
    pending = [str(Path(top))]
    while pending:
        directory = pending.pop()
        prefix = "" if directory == "." else os.path.join(directory, "")
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue  # as os.walk: an unreadable directory is skipped
        subdirectories = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                if entry.name.endswith(".toml"):
                    found.append((prefix + entry.name, entry.is_symlink()))
            elif not (
                entry.name.startswith(".")
                or entry.name in SKIPPED_DIRECTORIES
                or entry.is_symlink()
            ):
                subdirectories.append(prefix + entry.name)
        # A stack: pushed in reverse, so the first subdirectory is walked next, depth first.
        pending.extend(reversed(subdirectories))
    return found
