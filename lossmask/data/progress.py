"""One progress bar for reading and auditing: rows done, rows/s, on stderr, only on a terminal."""

from __future__ import annotations

import sys
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(total: int, label: str, *, enabled: bool | None = None) -> Any:
    """A tqdm bar counting rows (it shows rows/s); a no-op when stderr is not a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the [train] extra
        return _NoBar()
    # The finished bar stays: its last line is the run's row count and rows/s.
    return tqdm(total=total, desc=label, unit="rows", file=sys.stderr, leave=True)
