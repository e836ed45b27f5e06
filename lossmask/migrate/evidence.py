"""Where `migrate` finds out how files are launched, and which files it looks at.

Files: the one selection rule of every command (`config_files.selection`): excludes,
`[tool.lossmask]`, and whatever git ignores, counted from the repository's top level.

Launches: the launch lines under the directories given, and, inside a git repository, under its
top level too, whatever paths were given: pre-commit passes only the `.toml` files it changed,
and their launches live in scripts, docs and CI files elsewhere in the repository. A stack found
that way counts when one of its files is among the files being migrated.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

from lossmask.config_files import launches
from lossmask.config_files.launch_stacks import FoundStacks, find_stacks
from lossmask.config_files.selection import (
    Selection,
    discover_project_settings,
    git_top_level,
    selection_for,
)
from lossmask.migrate.files import Discovery
from lossmask.migrate.options import MigrateOptions
from lossmask.migrate.runner import FileResult
from lossmask.paths import LaunchFile, UnlistedDirectory, walk


def job_path(by_target: dict[str, str], path: str, default: str | None = None) -> str:
    """The name discovery gave the file at `path`, else `default` (else `path`)."""
    found = by_target.get(os.path.abspath(path)) or by_target.get(os.path.realpath(path))
    return found or (path if default is None else default)


def selection(options: MigrateOptions, paths: Sequence[str]) -> Selection:
    """The files a walk keeps; raises `ConfigError` for a wrong `[tool.lossmask]`."""
    project = discover_project_settings(paths)
    return selection_for(
        paths,
        project,
        exclude=options.exclude,
        extend_exclude=options.extend_exclude,
        force_exclude=options.force_exclude,
        respect_gitignore=options.respect_gitignore,
    )


def searched(options: MigrateOptions) -> list[str]:
    """The directories given whose launch lines count (none with --no-launches)."""
    return [path for path in options.paths if os.path.isdir(path)] if options.find_launches else []


def _tops(options: MigrateOptions, named: Sequence[str]) -> list[Path]:
    if not options.find_launches:
        return []
    tops = {git_top_level(path) for path in [*options.paths, *named]}
    return sorted(top for top in tops if top is not None)


def _inside(path: Path, directories: Collection[str]) -> bool:
    return any(
        path == Path(d).absolute() or Path(d).absolute() in path.parents for d in directories
    )


def script_launches(
    options: MigrateOptions, discovery: Discovery, named: Sequence[str], kept: Selection
) -> list[launches.LaunchLine]:
    """The launches in the scripts, docs and CI files the walk met, then in those of each
    repository top level the walk did not cover (and in the comments of its other configs)."""
    found: list[launches.LaunchLine] = []
    seen = set()
    for name in discovery.launch_files:
        seen.add(os.path.abspath(name))
        found.extend(launches.read_launch_file(name))
    walked = searched(options)
    jobs = {job.target for job in discovery.jobs}
    for top in _tops(options, named):
        if _inside(top, walked):
            continue
        for listing in walk(_shown(top), launch_files=True):
            for entry in listing:
                if isinstance(entry, UnlistedDirectory):
                    continue
                path = entry.path if isinstance(entry, LaunchFile) else entry[0]
                absolute = os.path.abspath(path)
                if absolute in seen or absolute in jobs or kept.skips(Path(path)):
                    continue
                seen.add(absolute)
                if isinstance(entry, LaunchFile):
                    found.extend(launches.read_launch_file(path))
                elif isinstance(entry, tuple) and path.endswith(".toml"):
                    found.extend(_toml_comment_launches(path))
    return found


def _shown(directory: Path) -> str:
    """`directory` as reports name files: relative to the working directory when inside it."""
    relative = os.path.relpath(directory)
    return directory.as_posix() if relative.startswith("..") else relative


def _toml_comment_launches(path: str) -> list[launches.LaunchLine]:
    try:
        if os.path.getsize(path) > launches.MAX_LAUNCH_FILE_BYTES:
            return []
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            text = handle.read()
    except OSError:
        return []
    return launches.launch_lines(text, path, comments_only=True)


def found_stacks(
    options: MigrateOptions,
    named: Sequence[str],
    by_target: dict[str, str],
    results: Sequence[FileResult],
    script_lines: Sequence[launches.LaunchLine],
) -> FoundStacks:
    """The stacks the launch lines compose, the lines naming no file, and the launches that
    cannot be resolved with the files each holds back; only those touching a file being
    migrated."""
    directories = searched(options)
    if not directories and not _tops(options, named):
        return FoundStacks([], [], [])
    lines = [line for result in results for line in result.launches] + list(script_lines)
    given_roots = [
        (os.path.join(os.path.abspath(directory), ""), launches.repository_root(directory))
        for directory in directories
    ]

    def root_of(file: str) -> str:
        top = git_top_level(file)
        if top is not None:
            return str(top)
        holder = os.path.abspath(file)
        return next((r for d, r in given_roots if holder.startswith(d)), os.path.dirname(holder))

    def name_of(path: str) -> str:
        return job_path(by_target, path, os.path.relpath(path))

    found = find_stacks(lines, root_of, list(by_target), name_of)
    jobs = set(by_target.values())
    return FoundStacks(
        [s for s in found.stacks if any(layer.path in jobs for layer in s.layers)],
        found.notes,
        [hold for hold in found.holds if any(name in jobs for name in hold.files)],
    )
