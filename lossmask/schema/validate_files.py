"""`lossmask validate`: check files against a schema version and report in `path:line: key: msg`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lossmask.errors import ConfigError, Problem, UnreadableFileError
from lossmask.paths import UnlistedDirectory, iter_toml_files
from lossmask.schema.validation import LATEST_VERSION, check_config
from lossmask.stacks import Layer, Stack, validate_stack

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class ValidateOptions:
    paths: Sequence[str]
    version: int = LATEST_VERSION
    quiet: bool = False  # errors only: no warnings, no summary
    stacks: Sequence[tuple[Layer, ...]] = ()  # `@ a.toml @ b.toml`: validated as composed


@dataclass
class FileResult:
    path: Path
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unreadable: bool = False


def validate_file(path: Path, version: int) -> FileResult:
    try:
        report = check_config(path, version)
    except UnreadableFileError as exc:
        return FileResult(path, errors=exc.problems, unreadable=True)
    except ConfigError as exc:
        return FileResult(path, errors=exc.problems)
    return FileResult(path, warnings=report.warnings)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def execute(options: ValidateOptions, echo: Callable[..., None]) -> int:
    """Validate every file, print problems and a summary, and return the exit code."""
    results = [
        FileResult(Path(found.path), errors=[found.problem()], unreadable=True)
        if isinstance(found, UnlistedDirectory)
        else validate_file(found, options.version)
        for found in iter_toml_files(options.paths)
    ]
    for layers in options.stacks:
        errors, warnings, cannot_read = validate_stack(Stack(layers), options.version)
        results.append(FileResult(Path(layers[0].path), errors, warnings, cannot_read))
    for result in results:
        for problem in result.errors:
            echo(problem.format(), err=True)
        if not options.quiet:
            for problem in result.warnings:
                echo(problem.format(), err=True)
    invalid = sum(1 for r in results if r.errors and not r.unreadable)
    unreadable = sum(1 for r in results if r.unreadable)
    if not options.quiet:
        valid = len(results) - invalid - unreadable
        parts = [_plural(valid, "file") + " valid"]
        if invalid:
            parts.append(f"{invalid} invalid")
        if unreadable:
            parts.append(f"{unreadable} unreadable")
        echo(", ".join(parts) + f" (schema version {options.version})", err=True)
    if unreadable:
        return EXIT_ERROR
    return EXIT_INVALID if invalid else EXIT_OK
