"""How `lossmask validate` reports: text on stderr, one JSON document, or GitHub annotations.

- `text`: each problem as `path:line: key: message (suggestion)` and a summary, on stderr.
- `json`: one document on stdout and nothing else, for tools (same field names as
  `lossmask migrate --format json`).
- `github`: a `::error` / `::warning` workflow command per problem on stdout, which GitHub Actions
  shows on the file's line in the pull request (the format of `ruff --output-format github`);
  the summary goes to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lossmask.errors import Problem
from lossmask.validate.command import FileResult, ValidateOptions, ValidateReport

JSON_FORMAT_VERSION = 1
Echo = Callable[..., None]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def summary(report: ValidateReport) -> str:
    valid = len(report.results) - report.invalid - report.unreadable - report.skipped
    parts = [_plural(valid, "file") + " valid"]
    if report.skipped:
        parts.append(f"{report.skipped} not SFT configs (skipped)")
    if report.invalid:
        parts.append(f"{report.invalid} invalid")
    if report.unreadable:
        parts.append(f"{report.unreadable} unreadable")
    if report.warnings_as_errors and report.warning_count:
        parts.append(_plural(report.warning_count, "warning") + " (treated as errors)")
    return ", ".join(parts) + f" (read as {report.reading.label})"


def _shown(result: FileResult, report: ValidateReport, options: ValidateOptions) -> list[Problem]:
    warnings = result.warnings if report.warnings_as_errors or not options.quiet else []
    notes = result.notes if not options.quiet else []
    return [*result.errors, *warnings, *notes]


def write_text(report: ValidateReport, options: ValidateOptions, echo: Echo) -> None:
    for problem in report.setup_errors:
        echo(problem.format(), err=True)
    for result in report.results:
        for problem in _shown(result, report, options):
            echo(problem.format(), err=True)
    if not options.quiet and not report.setup_errors:
        echo(summary(report), err=True)


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "key": problem.key_text or None,
        "severity": problem.severity,
        "message": problem.message,
        "suggestion": problem.suggestion,
        "text": problem.format(),
    }


def _status(result: FileResult) -> str:
    if result.unreadable:
        return "unreadable"
    if result.errors:
        return "invalid"
    return "skipped" if result.skipped else "valid"


def write_json(report: ValidateReport, options: ValidateOptions, echo: Echo) -> None:
    payload = {
        "version": JSON_FORMAT_VERSION,
        "schema_version": report.version,
        "reader": report.reading.reader.name,
        "exit_code": int(report.exit_code),
        "errors": [_problem_json(p) for p in report.setup_errors],
        "summary": {
            "valid": len(report.results) - report.invalid - report.unreadable - report.skipped,
            "skipped": report.skipped,
            "invalid": report.invalid,
            "unreadable": report.unreadable,
            "warnings": report.warning_count,
            "warnings_as_errors": report.warnings_as_errors,
            "text": summary(report),
        },
        "files": [
            {
                "path": str(result.path),
                "status": _status(result),
                "errors": [_problem_json(p) for p in result.errors],
                "warnings": [_problem_json(p) for p in result.warnings],
                "notes": [_problem_json(p) for p in result.notes],
            }
            for result in report.results
        ],
    }
    echo(json.dumps(payload, indent=2))


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem, *, as_error: bool = False) -> str:
    """One GitHub Actions workflow command: `::error file=F,line=N,title=T::message`."""
    level = {"error": "error", "warning": "warning", "note": "notice"}[problem.severity]
    level = "error" if as_error else level
    properties = []
    if problem.file is not None:
        properties.append(f"file={_escape_property(problem.file)}")
    if problem.line is not None:
        properties.append(f"line={problem.line}")
    title = "lossmask validate" + (f": {problem.key_text}" if problem.key else "")
    properties.append(f"title={_escape_property(title)}")
    message = problem.message + (f" ({problem.suggestion})" if problem.suggestion else "")
    return f"::{level} {','.join(properties)}::{_escape_data(message)}"


def write_github(report: ValidateReport, options: ValidateOptions, echo: Echo) -> None:
    for problem in report.setup_errors:
        echo(github_annotation(problem))
    for result in report.results:
        for problem in _shown(result, report, options):
            as_error = report.warnings_as_errors and problem.severity == "warning"
            echo(github_annotation(problem, as_error=as_error))
    if not options.quiet and not report.setup_errors:
        echo(summary(report), err=True)


WRITERS: dict[str, Callable[[ValidateReport, ValidateOptions, Echo], None]] = {
    "text": write_text,
    "json": write_json,
    "github": write_github,
}


def report_writer(echo: Echo) -> Callable[[ValidateReport, ValidateOptions], None]:
    """The writer `execute` calls: the one `options.output_format` names, printing with `echo`."""

    def write(report: ValidateReport, options: ValidateOptions) -> None:
        WRITERS[options.output_format](report, options, echo)

    return write
