"""`lossmask validate`: check files as a reader reads them and report in `path:line: key: msg`.

Settings come from the command line over `[tool.lossmask]` of the nearest `pyproject.toml`
(`lossmask.config_files.selection`), which also decides which files a directory contributes. The
reader (`lossmask.readers`: prime-rl main, prime-rl before #2988, lossmask's schema) decides what
is valid and what is said about a file's meaning. Files that prime-rl launches with another
entrypoint than `sft` (rl, evals, inference: `entrypoints.py`) get one note each.
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
from lossmask.paths import UnlistedDirectory, UnreadablePath, is_directory, read_regular_file
from lossmask.readers.checks import no_data_statement
from lossmask.readers.registry import ReaderChoiceError, Reading, choose_reading
from lossmask.schema.quick_check import quick_check_parsed
from lossmask.validate.entrypoints import Entrypoint, LaunchEvidence, names_sft

if TYPE_CHECKING:
    from lossmask.config_files.stacks import Layer

OutputFormat = Literal["text", "json", "github"]
STDIN = "-"


@dataclass(frozen=True)
class ValidateOptions:
    """What the command line asked for; None means "as `[tool.lossmask]` says, else default"."""

    paths: Sequence[str]
    version: int | None = None
    reader: str | None = None
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
    notes: list[Problem] = field(default_factory=list)
    skipped: bool = False  # not an SFT config: only checked to be valid TOML


@dataclass
class ValidateReport:
    """Every file's result; `exit_code` is the only place validate decides how it exits."""

    reading: Reading
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
    def version(self) -> int:
        return self.reading.version

    @property
    def skipped(self) -> int:
        return sum(1 for r in self.results if r.skipped and not r.errors)

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


def validate_file(
    path: Path,
    version: int,
    reading: Reading | None = None,
    evidence: LaunchEvidence | None = None,
) -> FileResult:
    """One file, as `reading` (default: lossmask's schema at `version`) reads it; `evidence` says
    which entrypoint launches it, where launch lines or its shape tell. The file is read and
    parsed once; it is settled by the quick check, else by the full one (which reads again only a
    file that could not be parsed, to word why)."""
    parsed = _read(path)
    entry = (
        evidence.entrypoint(path, parsed[0] if parsed is not None else None)
        if evidence is not None
        else None
    )
    if entry is not None and not entry.is_sft:
        return _other_entrypoint(path, entry, parsed)
    warnings = (
        quick_check_parsed(parsed[0], parsed[1], path, version, reading)
        if parsed is not None
        else None
    )
    if warnings is not None:
        result = FileResult(path, warnings=warnings)
    else:
        # Only now the pydantic models: every problem is worded by the full check.
        from lossmask.schema.validation import check_config, validate_data

        try:
            if parsed is None:
                found = check_config(path, version, reading).warnings
            else:
                _, found = validate_data(
                    parsed[0], version=version, file=str(path), text=parsed[1], reading=reading
                )
        except UnreadableFileError as exc:
            return FileResult(path, errors=exc.problems, unreadable=True)
        except ConfigError as exc:
            # A byte order mark is not TOML that could be fixed key by key: the file cannot be
            # read as TOML at all, so it is an error (exit 2), as an unreadable file is.
            return FileResult(path, errors=exc.problems, unreadable=_starts_with_bom(path))
        result = FileResult(path, warnings=found)
    if reading is not None and (entry is not None or names_sft(path)):
        _say_no_data(result, reading, parsed)
    return result


def _other_entrypoint(
    path: Path, entry: Entrypoint, parsed: tuple[dict[str, Any], str] | None
) -> FileResult:
    """A config another entrypoint launches: checked to be TOML, and said so in one line."""
    if parsed is None:
        from lossmask.schema.validation import read_toml

        try:
            read_toml(path)
        except UnreadableFileError as exc:
            return FileResult(path, errors=exc.problems, unreadable=True)
        except ConfigError as exc:
            return FileResult(path, errors=exc.problems, unreadable=_starts_with_bom(path))
    note = Problem(
        f"not an SFT trainer config: a `{entry.command}` config ({entry.evidence}); lossmask "
        "checks SFT configs, so it only checked that this is valid TOML",
        file=str(path),
        severity="note",
    )
    return FileResult(path, notes=[note], skipped=True)


_UTF8_BOM = b"\xef\xbb\xbf"


def _starts_with_bom(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(_UTF8_BOM)) == _UTF8_BOM
    except OSError:
        return False


def _say_no_data(
    result: FileResult, reading: Reading, parsed: tuple[dict[str, Any], str] | None
) -> None:
    if result.errors or parsed is None or "data" in parsed[0]:
        return
    statement = no_data_statement(reading)
    if statement is None:
        return
    statement = dataclasses.replace(statement, file=str(result.path), line=1)
    (result.notes if statement.severity == "note" else result.warnings).append(statement)


def validate_stdin(
    name: str, version: int, read: Callable[[], bytes], reading: Reading | None = None
) -> FileResult:
    """Validate standard input as the file `name` (which need not exist).

    The bytes go through the same reader as a file, by way of a temporary file that is removed
    afterwards; every problem then names `name`, as the user's editor or pipeline knows it.
    """
    handle, temporary = tempfile.mkstemp(suffix=".toml")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(read())
        result = validate_file(Path(temporary), version, reading)
    finally:
        os.unlink(temporary)

    def renamed(problems: list[Problem]) -> list[Problem]:
        return [dataclasses.replace(p, file=name) for p in problems]

    return FileResult(
        Path(name),
        renamed(result.errors),
        renamed(result.warnings),
        result.unreadable,
        renamed(result.notes),
        result.skipped,
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
        report = ValidateReport(choose_reading(), setup_errors=exc.problems)
        write_report(report, options)
        return report
    try:
        reading = choose_reading(
            options.reader,
            options.version,
            project_reader=project.reader,
            project_version=project.schema_version,
        )
    except ReaderChoiceError as exc:
        report = ValidateReport(choose_reading(), setup_errors=[Problem(str(exc))])
        write_report(report, options)
        return report
    version = reading.version
    warnings_as_errors = options.warnings_as_errors
    if warnings_as_errors is None:
        warnings_as_errors = bool(project.warnings_as_errors)
    selection = _selection(options, project)
    report = ValidateReport(reading, warnings_as_errors=warnings_as_errors)
    evidence = LaunchEvidence.gather([p for p in options.paths if p != STDIN and is_directory(p)])
    for given in options.paths:
        if given == STDIN:
            name = options.stdin_filename or "<stdin>"
            if options.stdin_filename and not selection.keeps(Path(name), named=True):
                continue
            report.results.append(validate_stdin(name, version, read_stdin, reading))
            continue
        for found in select_files([given], selection):
            if isinstance(found, UnlistedDirectory):
                result = FileResult(Path(found.path), errors=[found.problem()], unreadable=True)
            else:
                result = validate_file(found, version, reading, evidence)
            report.results.append(result)
    if options.stacks:
        # Deferred: composing a stack needs the pydantic models, which a plain check avoids.
        from lossmask.config_files.stacks import Stack, validate_stack

        for layers in options.stacks:
            errors, warnings, cannot_read = validate_stack(Stack(layers), reading)
            if errors and any(_starts_with_bom(Path(layer.path)) for layer in layers):
                cannot_read = True
            result = FileResult(Path(layers[0].path), errors, warnings, cannot_read)
            result.notes = [w for w in warnings if w.severity == "note"]
            result.warnings = [w for w in warnings if w.severity != "note"]
            report.results.append(result)
    write_report(report, options)
    return report
