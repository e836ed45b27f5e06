"""Whether output may be coloured, decided one way for every command."""

from __future__ import annotations

import os
from typing import TextIO


def no_color_requested() -> bool:
    """The NO_COLOR convention (https://no-color.org): set and not empty means no colour."""
    return bool(os.environ.get("NO_COLOR"))


def color_by_default(stream: TextIO) -> bool:
    """Colour when writing to a terminal and NO_COLOR is not set; a `--color` flag overrides."""
    return stream.isatty() and not no_color_requested()
