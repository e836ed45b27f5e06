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
permission bits, extended attributes and ACLs (and owner and group, where allowed), then
`os.replace`d over the original. A failure at any point, Ctrl-C or SIGTERM leaves the original as it
was and removes the temporary file; one left by SIGKILL is removed by the next run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lossmask.config_files.selection import Selection
from lossmask.errors import Problem
from lossmask.paths import (
    TEMP_SUFFIX,
    LaunchFile,
    LeftoverTemporary,
    UnlistedDirectory,
    Walked,
    cannot_read,
    is_directory,
    link_problem,
    walk,
)

# The one call between "temporary file complete" and "original replaced"; tests swap it to inject a
# failure exactly there.
_replace = os.replace


@dataclass(frozen=True)
class FileJob:
    """One file to migrate: `path` as the user will see it, `target` the file actually written.

    `stale` holds temporary files an earlier, killed run left beside the target.
    """

    path: str
    target: str
    problem: Problem | None = None
    stale: tuple[str, ...] = ()

    @property
    def is_link(self) -> bool:
        return self.target != os.path.abspath(self.path)


# What discovery looks at: an entry of a walk, or a path named on the command line (no link flag).
_Entry = Walked | tuple[str, None]


class Discovery:
    """The files named on the command line, and `*.toml` files under named directories, in order.

    Iterating yields the jobs one directory at a time, as the walk lists them, so the work on the
    first files can start before the walk ends (`runner.map_files`); `jobs` holds every job
    yielded so far. A path that cannot be looked at (missing, in a directory without search
    permission, a link loop) and a directory that cannot be listed become jobs that carry their
    problem, in order. Under the directories in `launch_roots` the same walk collects the
    scripts, Makefiles, Markdown, CI YAML and Python files that may hold launch lines, in
    `launch_files`. `selection` leaves out what the project excludes or git ignores (a file named
    on the command line is kept unless `--force-exclude`), as `validate` does.
    """

    def __init__(
        self,
        paths: Iterable[str],
        launch_roots: Collection[str] = (),
        selection: Selection | None = None,
    ) -> None:
        self.paths = list(paths)
        self.launch_roots = set(launch_roots)
        # Which walked files count (excludes, .gitignore); None: every `*.toml` file.
        self.selection = selection
        self.jobs: list[FileJob] = []
        self.launch_files: list[str] = []

    def __iter__(self) -> Iterator[FileJob]:
        seen: set[str] = set()
        leftovers = _Leftovers()
        for given in self.paths:
            listings: Iterable[Sequence[_Entry]]
            if is_directory(given):
                listings = walk(str(Path(given)), launch_files=given in self.launch_roots)
            else:
                listings = [[(str(Path(given)), None)]]
            for listing in listings:
                # A listing's leftover temporary files are known before its jobs are attached.
                found = [job for entry in listing if (job := self._job(entry, seen, leftovers))]
                for job in found:
                    job = leftovers.attach(job)
                    self.jobs.append(job)
                    yield job

    def _job(
        self,
        entry: _Entry,
        seen: set[str],
        leftovers: _Leftovers,
    ) -> FileJob | None:
        if isinstance(entry, UnlistedDirectory):
            return FileJob(entry.path, os.path.abspath(entry.path), entry.problem())
        if isinstance(entry, LeftoverTemporary):
            leftovers.add(os.path.abspath(entry.path))
            return None
        if isinstance(entry, LaunchFile):
            if self.selection is None or not self.selection.skips(Path(entry.path)):
                self.launch_files.append(entry.path)
            return None
        path, listed_link = entry
        if self.selection is not None and not self.selection.keeps(
            Path(path), named=listed_link is None
        ):
            return None
        if listed_link is None:  # named on the command line, not listed by the walk
            try:
                is_link = stat.S_ISLNK(os.lstat(path).st_mode)
            except OSError as exc:
                return FileJob(path, os.path.abspath(path), _unreadable(path, exc))
        else:
            is_link = listed_link
        if is_link:
            target = os.path.realpath(path)
            broken = link_problem(path)
            if broken is not None:
                problem = Problem(broken.message, file=path, suggestion=broken.suggestion)
                return FileJob(path, target, problem)
        else:
            target = os.path.abspath(path)
            if listed_link is not None:
                leftovers.listed.add(os.path.dirname(target))
        if target in seen:
            return None
        seen.add(target)
        return FileJob(path, target)


def discover(paths: Iterable[str]) -> list[FileJob]:
    """Every job `Discovery(paths)` yields, in order."""
    return list(Discovery(paths))


# What `atomic_write` names its temporary files: "." + name + "." + 8 random characters + suffix.
_TEMPORARY = re.compile(r"\.(.+)\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


class _Leftovers:
    """Temporary files a killed run left beside the targets, by directory and target name.

    Collected before any file is written, so none of this run's own temporary files is among
    them. A walk lists them as it goes (`listed` holds the directories it listed); any other
    directory (of a named file, or of a link's target) is listed once, when first needed.
    """

    def __init__(self) -> None:
        self.by_directory: dict[str, dict[str, list[str]]] = {}
        self.listed: set[str] = set()

    def add(self, temporary: str) -> None:
        directory, name = os.path.split(temporary)
        match = _TEMPORARY.fullmatch(name)
        if match is not None:
            by_name = self.by_directory.setdefault(directory, {})
            by_name.setdefault(match.group(1), []).append(name)

    def attach(self, job: FileJob) -> FileJob:
        if job.problem is not None:
            return job
        directory, name = os.path.split(job.target)
        if directory not in self.listed:
            self.listed.add(directory)
            with contextlib.suppress(OSError):
                for candidate in os.listdir(directory):
                    if candidate.endswith(TEMP_SUFFIX):
                        self.add(os.path.join(directory, candidate))
        left = self.by_directory.get(directory, {}).get(name)
        if not left:
            return job
        # Shown beside the name the user gave, unless that is a link into another directory.
        shown = directory if job.is_link else os.path.dirname(job.path)
        stale = tuple(os.path.join(shown, temporary) for temporary in sorted(set(left)))
        return FileJob(job.path, job.target, job.problem, stale)


def stale_temporary_notes(job: FileJob, remove: bool) -> list[Problem]:
    """Warnings about `job.stale`, each removed first when `remove` (a run that writes)."""
    notes = []
    for temporary in job.stale:
        if not remove:
            notes.append(
                Problem(
                    f"temporary file left by an interrupted lossmask migrate: {temporary}",
                    file=job.path,
                    suggestion="delete it; lossmask migrate (without --check or --diff) does",
                    severity="warning",
                )
            )
            continue
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            continue  # someone else removed it meanwhile
        except OSError as exc:
            notes.append(
                Problem(
                    f"cannot remove the temporary file left by an interrupted lossmask migrate: "
                    f"{temporary} ({exc.strerror or exc})",
                    file=job.path,
                    suggestion="delete it",
                    severity="warning",
                )
            )
            continue
        notes.append(
            Problem(
                f"removed a temporary file left by an interrupted lossmask migrate: {temporary}",
                file=job.path,
                severity="warning",
            )
        )
    return notes


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


class Terminated(BaseException):
    """SIGTERM arrived while a temporary file existed (a BaseException, as KeyboardInterrupt)."""


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Terminated`, so the cleanup that SIGINT's
    `KeyboardInterrupt` gets (removing the temporary file) runs for it too; then the process dies
    of SIGTERM as it would have. Only where SIGTERM does its default thing, in the main thread
    (signal handlers live there): a program that handles SIGTERM itself keeps its own handling."""
    if (
        not hasattr(signal, "SIGTERM")
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise  # only if SIGTERM did not end the process
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


_SELINUX_LABEL = "security.selinux"


def _keep_owner_and_attributes(target: str, temporary: str, original: os.stat_result) -> None:
    """Give `temporary` what `target` has besides its text: owner and group where the OS allows,
    permission bits, extended attributes and POSIX ACLs (the `system.posix_acl_access` xattr).

    A user who may not give the file away (not root) still keeps its group when they belong to
    it. An attribute that cannot be copied refuses the rewrite instead of dropping it silently.
    """
    if hasattr(os, "chown"):
        try:
            os.chown(temporary, original.st_uid, original.st_gid)
        except PermissionError:
            # The file becomes ours, as any editor's save would make it; the group can stay.
            with contextlib.suppress(PermissionError):
                os.chown(temporary, -1, original.st_gid)
    # After chown, which may clear set-id bits; before the ACL, which carries the group bits.
    os.chmod(temporary, stat.S_IMODE(original.st_mode))
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(target)
    except OSError:
        return  # the filesystem has no extended attributes: nothing to keep
    for name in names:
        try:
            os.setxattr(temporary, name, os.getxattr(target, name))
        except OSError as exc:
            if name == _SELINUX_LABEL:
                continue  # the new file got its label from the policy, as any new file does
            raise WriteRefused(
                Problem(
                    f"cannot keep the file's extended attribute {name} "
                    f"({exc.strerror or exc}); not rewritten",
                    file=target,
                    suggestion="apply the change by hand; --diff prints it",
                )
            ) from None


# Text is encoded and written this many characters at a time, so a 1 GB rewrite is never held
# twice (as text and as bytes).
WRITE_CHUNK = 8 * 1024 * 1024


def atomic_write(target: str, text: str, original: os.stat_result) -> None:
    """Replace `target` with `text` (UTF-8) atomically, keeping its permissions, owner, group,
    extended attributes and ACLs as far as the OS allows (`_keep_owner_and_attributes`).

    `original` is the stat taken before the file was read: if the file changed since (an editor
    saved it meanwhile), nothing is written and `WriteRefused` is raised. The temporary file is
    removed on any failure, on Ctrl-C and on SIGTERM; only SIGKILL (or a crash) can leave it, and
    the next run removes it (`stale_temporaries`).
    """
    directory = os.path.dirname(target) or "."
    temporary: str | None = None
    with terminate_cleanly():
        try:
            descriptor, temporary = tempfile.mkstemp(
                dir=directory, prefix="." + os.path.basename(target) + ".", suffix=TEMP_SUFFIX
            )
            with os.fdopen(descriptor, "wb") as handle:
                for start in range(0, len(text), WRITE_CHUNK):
                    handle.write(text[start : start + WRITE_CHUNK].encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            _keep_owner_and_attributes(target, temporary, original)
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
            if temporary is not None:
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
