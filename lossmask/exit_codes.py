"""The exit codes every lossmask command uses, and the shape of a command's report.

Every command has one shape: the click function parses its flags into an options object and calls
the command's `execute(options)`, which returns a report; the report's `exit_code` is the only place
a command decides how it exits (black's `Report.return_code`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol


class ExitCode(IntEnum):
    OK = 0
    # Something to change or fix was found: an invalid config, `migrate --check` with changes, an
    # audit under its `--fail-under-*` threshold.
    FOUND = 1
    # An error: bad usage, unreadable input, a conflict lossmask will not guess about.
    ERROR = 2
    # Stopped on a signal (128 + signal number, as shells do): the trainer after saving what it
    # had, a config command on Ctrl-C with nothing left half-written.
    INTERRUPTED = 130
    TERMINATED = 143


class CommandReport(Protocol):
    @property
    def exit_code(self) -> ExitCode: ...
