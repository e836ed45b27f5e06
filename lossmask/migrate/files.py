"""Which files `migrate` looks at, and how it replaces one without ever leaving it half written.

Link policy (also in docs/migration.md):

- A symbolic link to a file is followed: the file it points to is rewritten (the link stays a
  link) and reports name the link and the resolved path. A dangling link is an error. Two paths
  that resolve to the same file are migrated once. Symbolic links to directories are not walked
  into (no cycles, no surprises outside the tree).
- A file with more than one hard link is not rewritten: an atomic rewrite creates a new file, so
  this name would get the new text and every other name would keep the old one, silently. It is
  reported as an error with what to do; `--check` and `--diff` work on it as usual.

Writes are atomic: a temporary file in the same directory, flushed and fsynced, given the original's
permission bits (and owner, where allowed), then `os.replace`d over the original. A failure at any
point leaves the original as it was and removes the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lossmask.errors import Problem
from lossmask.paths import (
    UnlistedDirectory,
    cannot_read,
    is_directory,
    link_problem,
    walk_toml_files,
)

# The one call between "temporary file complete" and "original replaced"; tests swap it to inject a
# failure exactly there.
_replace = os.replace

TEMP_SUFFIX = ".lossmask-migrate.tmp"


@dataclass(frozen=True)
class FileJob:
    """One file to migrate: `path` as the user will see it, `target` the file actually written."""

    path: str
    target: str
    problem: Problem | None = None

    @property
    def is_link(self) -> bool:
        return self.target != os.path.abspath(self.path)


def discover(paths: Iterable[str]) -> list[FileJob]:
    """Files named on the command line, and `*.toml` files under named directories, in order.

    A path that cannot be looked at (missing, in a directory without search permission, a link
    loop) and a directory that cannot be listed become jobs that carry their problem, in order.
    """
    jobs: list[FileJob] = []
    seen: set[str] = set()
    for given in paths:
        found: Iterable[tuple[str, bool | None] | UnlistedDirectory]
        if is_directory(given):
            found = walk_toml_files(str(Path(given)))
        else:
            found = [(str(Path(given)), None)]
        for entry in found:
            if isinstance(entry, UnlistedDirectory):
                jobs.append(FileJob(entry.path, os.path.abspath(entry.path), entry.problem()))
                continue
            path, listed_link = entry
            if listed_link is None:  # named on the command line, not listed by the walk
                try:
                    is_link = stat.S_ISLNK(os.lstat(path).st_mode)
                except OSError as exc:
                    jobs.append(FileJob(path, os.path.abspath(path), _unreadable(path, exc)))
                    continue
            else:
                is_link = listed_link
            if is_link:
                target = os.path.realpath(path)
                broken = link_problem(path)
                if broken is not None:
                    problem = Problem(broken.message, file=path, suggestion=broken.suggestion)
                    jobs.append(FileJob(path, target, problem))
                    continue
            else:
                target = os.path.abspath(path)
            if target in seen:
                continue
            seen.add(target)
            jobs.append(FileJob(path, target))
    return jobs


def _unreadable(path: str, exc: OSError) -> Problem:
    if exc.errno == errno.ENOENT:
        return Problem("no such file or directory", file=path)
    reason = cannot_read(exc)
    return Problem(reason.message, file=path, suggestion=reason.suggestion)


class WriteRefused(Exception):
    """The file must not be rewritten; `problem` says why and what to do."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def check_writable(job: FileJob) -> os.stat_result:
    """The target's stat, if `migrate` may rewrite it; otherwise `WriteRefused`."""
    info = os.stat(job.target)
    if not stat.S_ISREG(info.st_mode):
        raise WriteRefused(Problem("not a regular file; not rewritten", file=job.path))
    # Checked explicitly: `os.replace` would happily replace a read-only file (it needs only the
    # directory's permission), which would defeat what the read-only bit says.
    if not info.st_mode & 0o222 or not os.access(job.target, os.W_OK):
        raise WriteRefused(
            Problem(
                "file is read-only; not rewritten",
                file=job.path,
                suggestion="make it writable (chmod u+w) or see the change with --diff",
            )
        )
    if info.st_nlink > 1:
        raise WriteRefused(
            Problem(
                f"file has {info.st_nlink} hard links; not rewritten, because an atomic rewrite "
                "would update only this name and leave the other links with the old text",
                file=job.path,
                suggestion="to migrate this name alone, replace it with a copy first "
                "(cp FILE FILE.copy && mv FILE.copy FILE)",
            )
        )
    return info


def atomic_write(target: str, data: bytes, original: os.stat_result) -> None:
    """Replace `target` with `data` atomically, keeping its permission bits (and owner if we can).

    `original` is the stat taken before the file was read: if the file changed since (an editor
    saved it meanwhile), nothing is written and `WriteRefused` is raised.
    """
    directory = os.path.dirname(target) or "."
    descriptor, temporary = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(target) + ".", suffix=TEMP_SUFFIX
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(original.st_mode))
        if hasattr(os, "chown"):
            # Only root (or the owner, for the group) may; otherwise the file becomes ours, which
            # is what any editor's save would do too.
            with contextlib.suppress(PermissionError):
                os.chown(temporary, original.st_uid, original.st_gid)
        now = os.stat(target)
        if (now.st_mtime_ns, now.st_size, now.st_ino) != (
            original.st_mtime_ns,
            original.st_size,
            original.st_ino,
        ):
            raise WriteRefused(
                Problem(
                    "file changed while it was being migrated; not rewritten",
                    file=target,
                    suggestion="run lossmask migrate again",
                )
            )
        _replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not every platform or filesystem allows it.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def read_bytes(path: str) -> bytes:
    return Path(path).read_bytes()
