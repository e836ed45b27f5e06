"""What `lossmask migrate` prints: one line per changed or failed file and a summary, or JSON.

Text goes to stderr (like black and ruff), so `--diff` output on stdout stays a clean patch; JSON
goes to stdout for CI.
"""

from __future__ import annotations

import json
from typing import Any

from lossmask.migrate.runner import FileResult, Mode, RunResult

JSON_FORMAT_VERSION = 1


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def summary(run: RunResult) -> str:
    if run.mode == "write":
        changed = _plural(run.count("migrated"), "file migrated", "files migrated")
    else:
        changed = _plural(
            run.count("would_migrate"), "file would be migrated", "files would be migrated"
        )
    parts = [changed, f"{run.count('unchanged')} unchanged"]
    errors = run.count("error")
    if errors:
        parts.append(_plural(errors, "error", "errors"))
    return ", ".join(parts)


def _where(result: FileResult) -> str:
    return f"{result.path} -> {result.target}" if result.target else result.path


def file_lines(result: FileResult, mode: Mode, verbose: bool) -> list[str]:
    """The stderr lines for one file (the diff, if any, is printed separately to stdout)."""
    return _status_lines(result, mode, verbose) + [p.format() for p in result.warnings]


def _status_lines(result: FileResult, mode: Mode, verbose: bool) -> list[str]:
    if result.status == "error":
        return [f"error: {problem.format()}" for problem in result.problems]
    if result.status == "unchanged":
        return [f"Unchanged {_where(result)}"] if verbose else []
    verb = "Rewriting" if mode == "write" else "Would rewrite"
    lines = [f"{verb} {_where(result)}"]
    if verbose:
        lines.extend(f"  {change}" for change in result.changes)
    return lines


def as_json(run: RunResult) -> str:
    def problem(p: Any) -> dict[str, Any]:
        return {
            "file": p.file,
            "line": p.line,
            "key": p.key_text or None,
            "message": p.message,
            "suggestion": p.suggestion,
            "text": p.format(),
        }

    payload = {
        "version": JSON_FORMAT_VERSION,
        "mode": run.mode,
        "exit_code": run.exit_code,
        "summary": {
            "migrated": run.count("migrated"),
            "would_migrate": run.count("would_migrate"),
            "unchanged": run.count("unchanged"),
            "errors": run.count("error"),
            "text": summary(run),
        },
        "files": [
            {
                "path": result.path,
                "resolved_path": result.target,
                "status": result.status,
                "changes": result.changes,
                "errors": [problem(p) for p in result.problems],
                **({"diff": result.diff} if result.diff is not None else {}),
                **({"warnings": [problem(p) for p in result.warnings]} if result.warnings else {}),
            }
            for result in run.files
        ],
    }
    return json.dumps(payload, indent=2)
