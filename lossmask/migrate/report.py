"""What `lossmask migrate` found and did, and how it says so: lines and a summary, or JSON.

`MigrateReport.exit_code` is the one place the command's exit code is decided. Text goes to stderr
(like black and ruff), so `--diff` output on stdout stays a clean patch; JSON goes to stdout for CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lossmask.config_files.launch_stacks import Hold
from lossmask.config_files.stacks import Stack
from lossmask.errors import Problem
from lossmask.exit_codes import ExitCode
from lossmask.migrate.runner import FileResult, Mode, Status
from lossmask.readers.registry import Reading
from lossmask.schema.versions import LATEST_VERSION

JSON_FORMAT_VERSION = 2
UNDECIDED = "meaning depends on how it is launched"


@dataclass
class MigrateReport:
    mode: Mode
    files: list[FileResult]
    stacks: list[Stack] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # launch lines that name no file
    holds: list[Hold] = field(default_factory=list)  # launches that cannot be resolved
    source: Reading | None = None  # what the files meant (lossmask.readers)

    def count(self, *statuses: Status) -> int:
        return sum(1 for result in self.files if result.status in statuses)

    @property
    def exit_code(self) -> ExitCode:
        if self.count("error"):
            return ExitCode.ERROR
        if self.mode == "check" and self.count("would_migrate", "undecided"):
            return ExitCode.FOUND
        return ExitCode.OK


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def summary(run: MigrateReport) -> str:
    if run.mode == "write":
        changed = _plural(run.count("migrated"), "file migrated", "files migrated")
    else:
        changed = _plural(
            run.count("would_migrate"), "file would be migrated", "files would be migrated"
        )
    parts = [changed, f"{run.count('unchanged')} unchanged"]
    undecided = run.count("undecided")
    if undecided:
        parts.append(f"{undecided} whose {UNDECIDED}")
    if run.stacks:
        parts.append(_plural(len(run.stacks), "stack", "stacks"))
    errors = run.count("error")
    if errors:
        parts.append(_plural(errors, "error", "errors"))
    text = ", ".join(parts)
    if run.source is not None:
        text += f" (read as {run.source.label}; written as lossmask schema v{LATEST_VERSION})"
    return text


def stack_lines(run: MigrateReport) -> list[str]:
    lines = [
        f"Stack `{stack.describe()}` (from {', '.join(stack.sources)})" for stack in run.stacks
    ]
    lines.extend(f"note: {note.format()}" for note in run.notes)
    for hold in run.holds:
        count = _plural(len(hold.files), "file", "files")
        lines.append(
            f"Unresolved launch at {hold.launch.where}: `{hold.launch.command or '?'} "
            f"{hold.launch.describe()}` ({'; '.join(hold.reasons)}); the {count} it could "
            "name here are held back, never migrated alone"
        )
    return lines


def _where(result: FileResult) -> str:
    return f"{result.path} -> {result.target}" if result.target else result.path


def file_lines(result: FileResult, mode: Mode, verbose: bool) -> list[str]:
    """The stderr lines for one file (the diff, if any, is printed separately to stdout)."""
    return _status_lines(result, mode, verbose) + [p.format() for p in result.warnings]


def _status_lines(result: FileResult, mode: Mode, verbose: bool) -> list[str]:
    if result.status == "error":
        return [f"error: {problem.format()}" for problem in result.problems]
    if result.status == "undecided":
        why = "; ".join(result.held_by) or result.depends_on_launch
        return [
            f"Undecided {_where(result)}: {UNDECIDED} ({why}); "
            "name its stack (`lossmask migrate @ base.toml @ this.toml`) or pass "
            f"--standalone {result.path}"
        ]
    if result.status == "unchanged":
        return [f"Unchanged {_where(result)}"] if verbose else []
    verb = "Rewriting" if mode == "write" else "Would rewrite"
    lines = [f"{verb} {_where(result)}"]
    if verbose:
        lines.extend(f"  {change}" for change in result.changes)
    return lines


def _problem(p: Problem) -> dict[str, Any]:
    return {
        "file": p.file,
        "line": p.line,
        "key": p.key_text or None,
        "message": p.message,
        "suggestion": p.suggestion,
        "text": p.format(),
    }


def as_json(run: MigrateReport) -> str:
    payload = {
        "version": JSON_FORMAT_VERSION,
        "mode": run.mode,
        "reader": run.source.reader.name if run.source is not None else None,
        "schema_version": run.source.version if run.source is not None else None,
        "exit_code": int(run.exit_code),
        "summary": {
            "migrated": run.count("migrated"),
            "would_migrate": run.count("would_migrate"),
            "unchanged": run.count("unchanged"),
            "undecided": run.count("undecided"),
            "errors": run.count("error"),
            "stacks": len(run.stacks),
            "text": summary(run),
        },
        "stacks": [
            {
                "command": stack.command,
                "layers": [
                    {"path": layer.path, "nested_under": ".".join(layer.at) or None}
                    for layer in stack.layers
                ],
                "found_in": list(stack.sources),
            }
            for stack in run.stacks
        ],
        "notes": [_problem(note) for note in run.notes],
        "unresolved_launches": [
            {
                "file": hold.launch.file,
                "line": hold.launch.line,
                "command": hold.launch.command,
                "launch": hold.launch.describe(),
                "reasons": list(hold.reasons),
                "holds_back": list(hold.files),
            }
            for hold in run.holds
        ],
        "files": [
            {
                "path": result.path,
                "resolved_path": result.target,
                "status": result.status,
                "changes": result.changes,
                "errors": [_problem(p) for p in result.problems],
                **(
                    {"depends_on_launch": result.depends_on_launch}
                    if result.status == "undecided"
                    else {}
                ),
                **({"held_by": result.held_by} if result.held_by else {}),
                **({"diff": result.diff} if result.diff is not None else {}),
                **({"warnings": [_problem(p) for p in result.warnings]} if result.warnings else {}),
            }
            for result in run.files
        ],
    }
    return json.dumps(payload, indent=2)
