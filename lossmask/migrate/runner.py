"""Run a migration over many files: one result per file, one bad file never stops the others.

Files are independent, so `--jobs N` splits them into contiguous batches for a process pool (fork
where the platform has it: no re-import per worker). Results come back in discovery order, so the
output is the same for any N.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from lossmask.errors import ConfigError, Problem
from lossmask.migrate import files
from lossmask.migrate.diff import unified_diff
from lossmask.migrate.engine import migrate_config
from lossmask.schema.validation import read_toml

Mode = Literal["write", "check", "diff"]
Status = Literal["migrated", "would_migrate", "unchanged", "error"]

# Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class Options:
    mode: Mode = "write"
    from_version: int = 1
    jobs: int | None = None  # None: one per CPU for large trees, 1 for small ones
    # `--check --diff`: print the diff and still fail on a change, as black does.
    show_diff: bool = False


@dataclass
class FileResult:
    path: str
    status: Status
    target: str | None = None  # the resolved file, when `path` is a symbolic link
    changes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    diff: str | None = None
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class RunResult:
    mode: Mode
    files: list[FileResult]

    def count(self, *statuses: Status) -> int:
        return sum(1 for result in self.files if result.status in statuses)

    @property
    def exit_code(self) -> int:
        if self.count("error"):
            return 2
        if self.mode == "check" and self.count("would_migrate"):
            return 1
        return 0


def process(job: files.FileJob, options: Options) -> FileResult:
    """Migrate (or check) one file. Never raises for a problem with the file itself."""
    result = _process(job, options)
    if job.stale:
        result.warnings.extend(files.stale_temporary_notes(job, remove=options.mode == "write"))
    return result


def _process(job: files.FileJob, options: Options) -> FileResult:
    target = job.target if job.is_link else None
    if job.problem is not None:
        return FileResult(job.path, "error", target, problems=[job.problem])
    try:
        # Taken before reading, to detect an edit that lands between read and write.
        before = os.stat(job.target) if options.mode == "write" else None
        config, text = read_toml(job.path)
    except ConfigError as exc:
        return FileResult(job.path, "error", target, problems=list(exc.problems))
    except OSError as exc:
        problem = Problem(f"cannot read: {exc.strerror or exc}", file=job.path)
        return FileResult(job.path, "error", target, problems=[problem])
    outcome = migrate_config(config, text, file=job.path, from_version=options.from_version)
    if outcome.problems:
        return FileResult(job.path, "error", target, problems=outcome.problems)
    if outcome.new_text is None:
        return FileResult(job.path, "unchanged", target)
    changes = [f"{'.'.join(c.key)}: {c.description}" for c in outcome.changes]
    if options.mode != "write":
        show = options.mode == "diff" or options.show_diff
        diff = unified_diff(job.path, text, outcome.new_text) if show else None
        return FileResult(job.path, "would_migrate", target, changes, diff=diff)
    assert before is not None
    try:
        files.check_writable(job)
        files.atomic_write(job.target, outcome.new_text.encode("utf-8"), before)
    except files.WriteRefused as exc:
        problem = exc.problem
        if problem.file != job.path:
            problem = Problem(problem.message, file=job.path, suggestion=problem.suggestion)
        return FileResult(job.path, "error", target, problems=[problem])
    except OSError as exc:
        problem = Problem(f"cannot write: {exc.strerror or exc}; not rewritten", file=job.path)
        return FileResult(job.path, "error", target, problems=[problem])
    return FileResult(job.path, "migrated", target, changes)


# The whole job list, handed to each worker once when it starts (inherited, not pickled, where
# processes fork); batches then travel as index ranges instead of pickled jobs.
_worker_jobs: Sequence[files.FileJob] = ()


def _adopt(jobs: Sequence[files.FileJob]) -> None:
    global _worker_jobs
    _worker_jobs = jobs


def _process_range(bounds: tuple[int, int], options: Options) -> list[FileResult]:
    start, end = bounds
    return [process(job, options) for job in _worker_jobs[start:end]]


# At most this many files per batch: while one worker finishes the last batch the others idle,
# so a batch should be a small slice of the run (tens of milliseconds, not a sixteenth of it),
# while one round trip to a worker still carries many files.
BATCH_FILES = 32


def _ranges(total: int, count: int) -> list[tuple[int, int]]:
    size = max(1, min(BATCH_FILES, -(-total // count)))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def worker_count(options: Options, file_count: int) -> int:
    if options.jobs is not None:
        return max(1, min(options.jobs, file_count or 1))
    if file_count < PARALLEL_THRESHOLD:
        return 1
    return max(1, min(os.cpu_count() or 1, file_count // PARALLEL_THRESHOLD))


def run(
    paths: Sequence[str],
    options: Options,
    on_result: Callable[[FileResult], None] | None = None,
) -> RunResult:
    """Discover files under `paths` and migrate each; `on_result` is called as results arrive."""
    return run_jobs(files.discover(paths), options, on_result)


def run_jobs(
    jobs: Sequence[files.FileJob],
    options: Options,
    on_result: Callable[[FileResult], None] | None = None,
) -> RunResult:
    """Migrate already discovered files, in order."""
    workers = worker_count(options, len(jobs))
    results: list[FileResult] = []
    if workers == 1:
        for job in jobs:
            result = process(job, options)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return RunResult(options.mode, results)
    # Several batches per worker keep both busy to the end and let a progress bar move.
    ranges = _ranges(len(jobs), workers * 8)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_adopt, initargs=(list(jobs),)
    ) as pool:
        for batch_results in pool.map(_process_range, ranges, [options] * len(ranges)):
            results.extend(batch_results)
            if on_result is not None:
                for result in batch_results:
                    on_result(result)
    return RunResult(options.mode, results)
