"""Which files a command looks at when it is given files and directories, and how it reads one.

Both `validate` and `migrate` discover files here, so a path they cannot look at is reported the
same way by both: a directory that cannot be listed is an `UnlistedDirectory` entry in the walk
(never silently skipped), and `read_regular_file` refuses anything that is not a regular file
(a FIFO would block the read forever, a link to `/dev/zero` would never end) before reading it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from lossmask.errors import Problem

# Directories no config lives in; walking them is slow and their files are not the user's.
SKIPPED_DIRECTORIES = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__"}
)

# Opening never waits (a FIFO without a writer) and never makes a terminal ours.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


# The suffix of the temporary files `migrate` writes before it replaces a file. A walk lists the
# ones it meets (left by a killed run), so `migrate` can clean them up without listing again.
TEMP_SUFFIX = ".lossmask-migrate.tmp"


class LeftoverTemporary(NamedTuple):
    """A `migrate` temporary file met in a walk (see `TEMP_SUFFIX`)."""

    path: str


class UnlistedDirectory(NamedTuple):
    """A directory met in a walk whose entries could not be listed (its files are unknown)."""

    path: str
    reason: str

    def problem(self) -> Problem:
        return Problem(
            f"cannot list this directory: {self.reason}; the files in it were not checked",
            file=self.path,
            suggestion="give it read and search permission with chmod u+rx, or leave it out",
        )


def is_directory(path: str | Path) -> bool:
    """Whether `path` is a directory; a path that cannot be looked at is not one (reading it as a
    file then reports why it cannot be read)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def iter_toml_files(paths: Iterable[str | Path]) -> Iterator[Path | UnlistedDirectory]:
    """Yield files named on the command line as given, and `*.toml` files under directories.

    A path that does not exist is yielded as is: the caller reports it, in order, like any other
    unreadable file. A directory that cannot be listed is yielded as an `UnlistedDirectory`.
    """
    for given in paths:
        path = Path(given)
        if not is_directory(path):
            yield path
            continue
        for entry in walk_toml_files(str(path)):
            if isinstance(entry, UnlistedDirectory):
                yield entry
            elif not isinstance(entry, LeftoverTemporary):
                yield Path(entry[0])


class LaunchFile(NamedTuple):
    """A script, Makefile, Markdown or CI file met in a walk that looks for launch lines."""

    path: str


# Files that hold launch lines (`uv run sft @ a.toml @ b.toml`) besides TOML comments; Python
# launchers hold them as argument lists (`["uv", "run", "sft", "@", "a.toml"]`).
LAUNCH_SUFFIXES = (".sh", ".bash", ".zsh", ".md", ".markdown", ".mk", ".yml", ".yaml", ".py")
LAUNCH_NAMES = frozenset({"Makefile", "makefile", "GNUmakefile", "Justfile", "justfile"})
# Hidden directories that hold launch lines (CI workflows): walked for launch files only.
LAUNCH_DIRECTORIES = frozenset({".github", ".gitlab", ".circleci", ".buildkite"})


def is_launch_file(name: str) -> bool:
    return name in LAUNCH_NAMES or name.endswith(LAUNCH_SUFFIXES)


Walked = tuple[str, bool] | UnlistedDirectory | LeftoverTemporary | LaunchFile


def walk(top: str, *, launch_files: bool = False) -> Iterator[list[Walked]]:
    """What each directory under `top` holds for a command, one list per directory listed.

    Each list holds (path, is a symbolic link) of the directory's `*.toml` files, a `migrate`
    temporary file as a `LeftoverTemporary`, and with `launch_files` its scripts, Makefiles,
    Markdown and CI YAML as `LaunchFile`s, in name order. A directory that cannot be listed is
    a list of one `UnlistedDirectory`. A directory's own files come before its subdirectories
    (sorted, depth first), as `os.walk` lists them; hidden directories and
    `SKIPPED_DIRECTORIES` are skipped and linked directories never entered (no cycles, nothing
    outside the tree), except that `launch_files` enters `LAUNCH_DIRECTORIES` (`.github`) for
    launch files only.

    One walk finds both kinds of file, and yields each directory as soon as it is listed, so
    `migrate` can hand the first files to its workers while it lists the rest. Built on
    `os.scandir` entries, whose type is known without a `stat` per file.
    """
    # Paths are written as `str(Path(...))` writes them: normalized once at the top, then joined,
    # except that under "." `Path` drops the leading "./". The flag: launch files only.
    pending = [(str(Path(top)), False)]
    while pending:
        directory, launch_only = pending.pop()
        prefix = "" if directory == "." else os.path.join(directory, "")
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            if not launch_only:
                yield [UnlistedDirectory(directory, describe_error(exc))]
            continue
        found: list[Walked] = []
        subdirectories = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                if launch_files and is_launch_file(name):
                    found.append(LaunchFile(prefix + name))
                elif launch_only:
                    continue
                elif name.endswith(".toml"):
                    found.append((prefix + name, entry.is_symlink()))
                elif name.endswith(TEMP_SUFFIX):
                    found.append(LeftoverTemporary(prefix + name))
            elif name in SKIPPED_DIRECTORIES or entry.is_symlink():
                continue
            elif not name.startswith("."):
                subdirectories.append((prefix + name, launch_only))
            elif launch_files and name in LAUNCH_DIRECTORIES:
                subdirectories.append((prefix + name, True))
        if found:
            yield found
        # A stack: pushed in reverse, so the first subdirectory is walked next, depth first.
        pending.extend(reversed(subdirectories))


def walk_toml_files(top: str) -> list[Walked]:
    """Every entry `walk(top)` yields, in order, as one list."""
    return [entry for listed in walk(top) for entry in listed]


def describe_error(exc: OSError) -> str:
    """An OS error in lower-case words, without the path (the report names the file already)."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the links never reach a file)"
    words = exc.strerror or str(exc)
    return words[:1].lower() + words[1:]


class UnreadablePath(Exception):
    """A path cannot be read as a config file; `message` and `suggestion` say why, in words."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


_LINK_SUGGESTION = "fix or remove the link"


def link_problem(path: str) -> UnreadablePath | None:
    """Why the symbolic link at `path` leads to no file (a loop, a missing target), or None."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return UnreadablePath(
                "symbolic link loop: following the links leads back to them, never to a file",
                _LINK_SUGGESTION,
            )
        if exc.errno == errno.ENOENT:
            target = os.path.realpath(path)
            return UnreadablePath(
                f"dangling symbolic link: its target {target} does not exist", _LINK_SUGGESTION
            )
    return None


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(path: str, mode: int) -> UnreadablePath:
    kind = next((words for test, words in _KINDS if test(mode)), "not a regular file")
    if os.path.islink(path):
        target = os.path.realpath(path)
        return UnreadablePath(
            f"is a symbolic link to {target}, which is {kind}, not a regular file; not read"
        )
    return UnreadablePath(f"is {kind}, not a regular file; not read")


def cannot_read(exc: OSError) -> UnreadablePath:
    """Why a path could not be looked at or read, from the OS error."""
    suggestion = None
    if exc.errno in (errno.EACCES, errno.EPERM):
        suggestion = "check the permissions of the file and of the directories above it"
    return UnreadablePath(f"cannot read: {exc.strerror or exc}", suggestion)


def read_regular_file(path: str) -> bytes:
    """The bytes of the regular file at `path` (links followed), or `UnreadablePath`.

    The type is checked with `stat` before the file is opened, then again on the open descriptor,
    so a path swapped for a FIFO or device in between is still refused before any read.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        broken = link_problem(path) if os.path.islink(path) else None
        raise broken or cannot_read(exc) from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        try:
            return handle.read()
        except OSError as exc:
            raise cannot_read(exc) from None
