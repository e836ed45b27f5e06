"""`lossmask validate`: check files against a schema version and report in `path:line: key: msg`.

Settings come from the command line over `[tool.lossmask]` of the nearest `pyproject.toml`
(`lossmask.config_files.selection`), which also decides which files a directory contributes.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lossmask.config_files.selection import (
    ProjectSettings,
    Selection,
    discover_project_settings,
    select_files,
    selection_for,
)
from lossmask.errors import ConfigError, Problem, UnreadableFileError
from lossmask.exit_codes import ExitCode
from lossmask.paths import UnlistedDirectory, UnreadablePath, read_regular_file
from lossmask.schema.meaning import LATEST_VERSION
from lossmask.schema.quick_check import quick_check_parsed

if TYPE_CHECKING:
    from lossmask.config_files.stacks import Layer

OutputFormat = Literal["text", "json", "github"]
STDIN = "-"


@dataclass(frozen=True)
class ValidateOptions:
    """What the command line asked for; None means "as `[tool.lossmask]` says, else default"."""

    paths: Sequence[str]
    version: int | None = None
    quiet: bool = False  # errors only: no warnings, no summary
    output_format: OutputFormat = "text"
    warnings_as_errors: bool | None = None
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    respect_gitignore: bool | None = None
    stdin_filename: str | None = None
    stacks: Sequence[tuple[Layer, ...]] = ()  # `@ a.toml @ b.toml`: validated as composed


@dataclass
class FileResult:
    path: Path
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unreadable: bool = False


@dataclass
class ValidateReport:
    """Every file's result; `exit_code` is the only place validate decides how it exits."""

    version: int
    results: list[FileResult] = field(default_factory=list)
    warnings_as_errors: bool = False
    # A problem with the invocation itself (a bad `[tool.lossmask]`): nothing was checked.
    setup_errors: list[Problem] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return sum(1 for r in self.results if r.errors and not r.unreadable)

    @property
    def unreadable(self) -> int:
        return sum(1 for r in self.results if r.unreadable)

    @property
    def warning_count(self) -> int:
        return sum(len(r.warnings) for r in self.results)

    @property
    def exit_code(self) -> ExitCode:
        if self.setup_errors or self.unreadable:
            return ExitCode.ERROR
        if self.invalid or (self.warnings_as_errors and self.warning_count):
            return ExitCode.FOUND
        return ExitCode.OK


def _read(path: Path) -> tuple[dict[str, Any], str] | None:
    """The parsed file and its text, or None when anything is odd (the full check words it)."""
    try:
        text = read_regular_file(str(path)).decode("utf-8")
        return tomllib.loads(text), text
    except (UnreadablePath, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None


def validate_file(path: Path, version: int) -> FileResult:
    """Read and parse the file once; settle it by the quick check, else by the full one (which
    reads again only a file that could not be parsed, to word why)."""
    parsed = _read(path)
    if parsed is not None:
        warnings = quick_check_parsed(parsed[0], parsed[1], path, version)
        if warnings is not None:
            return FileResult(path, warnings=warnings)
    # Only now the pydantic models: every problem is worded by the full check.
    from lossmask.schema.validation import check_config, validate_data

    try:
        if parsed is None:
            found = check_config(path, version).warnings
        else:
            _, found = validate_data(parsed[0], version=version, file=str(path), text=parsed[1])
    except UnreadableFileError as exc:
        return FileResult(path, errors=exc.problems, unreadable=True)
    except ConfigError as exc:
        # A byte order mark is not TOML that could be fixed key by key: the file cannot be read
        # as TOML at all, so it is an error (exit 2), as an unreadable file is.
        return FileResult(path, errors=exc.problems, unreadable=_starts_with_bom(path))
    return FileResult(path, warnings=found)


_UTF8_BOM = b"\xef\xbb\xbf"


def _starts_with_bom(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(_UTF8_BOM)) == _UTF8_BOM
    except OSError:
        return False


def validate_stdin(name: str, version: int, read: Callable[[], bytes]) -> FileResult:
    """Validate standard input as the file `name` (which need not exist).

    The bytes go through the same reader as a file, by way of a temporary file that is removed
    afterwards; every problem then names `name`, as the user's editor or pipeline knows it.
    """
    handle, temporary = tempfile.mkstemp(suffix=".toml")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(read())
        result = validate_file(Path(temporary), version)
    finally:
        os.unlink(temporary)

    def renamed(problems: list[Problem]) -> list[Problem]:
        return [dataclasses.replace(p, file=name) for p in problems]

    return FileResult(
        Path(name), renamed(result.errors), renamed(result.warnings), result.unreadable
    )


def _selection(options: ValidateOptions, project: ProjectSettings) -> Selection:
    return selection_for(
        _file_paths(options),
        project,
        exclude=options.exclude,
        extend_exclude=options.extend_exclude,
        force_exclude=options.force_exclude,
        respect_gitignore=options.respect_gitignore,
    )


def _file_paths(options: ValidateOptions) -> list[str]:
    """The paths settings are discovered from: stdin counts as its `--stdin-filename`."""
    stdin_name = options.stdin_filename or "stdin.toml"
    return [stdin_name if p == STDIN else p for p in options.paths]


def execute(
    options: ValidateOptions,
    write_report: Callable[[ValidateReport, ValidateOptions], None],
    read_stdin: Callable[[], bytes] = lambda: sys.stdin.buffer.read(),
) -> ValidateReport:
    """Validate every selected file, hand the report to `write_report`, and return it."""
    try:
        project = discover_project_settings(_file_paths(options))
    except ConfigError as exc:
        report = ValidateReport(LATEST_VERSION, setup_errors=exc.problems)
        write_report(report, options)
        return report
    version = options.version or project.schema_version or LATEST_VERSION
    warnings_as_errors = options.warnings_as_errors
    if warnings_as_errors is None:
        warnings_as_errors = bool(project.warnings_as_errors)
    selection = _selection(options, project)
    report = ValidateReport(version, warnings_as_errors=warnings_as_errors)
    for given in options.paths:
        if given == STDIN:
            name = options.stdin_filename or "<stdin>"
            if options.stdin_filename and not selection.keeps(Path(name), named=True):
                continue
            report.results.append(validate_stdin(name, version, read_stdin))
            continue
        for found in select_files([given], selection):
            if isinstance(found, UnlistedDirectory):
                result = FileResult(Path(found.path), errors=[found.problem()], unreadable=True)
            else:
                result = validate_file(found, version)
            report.results.append(result)
    if options.stacks:
        # Deferred: composing a stack needs the pydantic models, which a plain check avoids.
        from lossmask.config_files.stacks import Stack, validate_stack

        for layers in options.stacks:
            errors, warnings, cannot_read = validate_stack(Stack(layers), version)
            if errors and any(_starts_with_bom(Path(layer.path)) for layer in layers):
                cannot_read = True
            report.results.append(FileResult(Path(layers[0].path), errors, warnings, cannot_read))
    write_report(report, options)
    return report
