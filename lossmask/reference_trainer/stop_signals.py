"""SIGINT and SIGTERM during training: finish the step, save, then stop with 130 / 143.

The first signal only records a request; the loop checks it between steps, so an optimizer step is
never cut in half and the final checkpoint, metrics and loss curve describe a real state. A second
signal gets the handler that was there before (Ctrl-C twice raises KeyboardInterrupt at once).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from lossmask.exit_codes import ExitCode

HANDLED = (signal.SIGINT, signal.SIGTERM)


def exit_code_for(signum: int) -> ExitCode:
    return ExitCode.INTERRUPTED if signum == signal.SIGINT else ExitCode.TERMINATED


class StopRequests:
    """While entered, `requested` is the first SIGINT/SIGTERM number received (0: none)."""

    def __init__(self) -> None:
        self.requested = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = self.requested or signum
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __enter__(self) -> StopRequests:
        # Handlers can only be set from the main thread (a test or a notebook may run us elsewhere;
        # there the signals keep their usual meaning).
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
