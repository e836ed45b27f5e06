"""Warnings about what a config means, and line numbers for problems: plain Python over parsed
TOML, shared by the full check (`validation.py`) and the fast path (`quick_check.py`), so the two
can never word a warning differently. Importing this never builds a pydantic model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lossmask.errors import Problem
from lossmask.schema.locate import located
from lossmask.schema.sections import DATA_SECTIONS, sft_sections, table_at
from lossmask.schema.versions import LATEST_VERSION

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading

__all__ = ["LATEST_VERSION", "meaning_warnings", "with_lines"]


def meaning_warnings(
    data: Mapping[str, Any], version: int, reading: Reading | None = None
) -> list[Problem]:
    """What is worth saying about what `data` trains under `reading` (default: lossmask's schema at
    `version`). Each statement is true for the reading it is made under: a v1 meaning that changed
    is only said under lossmask's schema, where it did change (prime-rl main reads a missing
    loss_mask as the renderer's sampled tokens too, so nothing changed for it)."""
    from lossmask.readers.checks import reading_warnings
    from lossmask.readers.registry import lossmask_reading

    reading = reading or lossmask_reading(version)
    found: list[Problem] = []
    for path, section in sft_sections(data):
        if reading.reads_lossmask_schema and reading.version >= 2 and "loss_mask" not in section:
            found.append(
                Problem(
                    f'no loss_mask: schema version {reading.version} trains "sampled" tokens '
                    "here, where version 1 trained assistant messages only",
                    path,
                    suggestion="run `lossmask migrate` to keep the old meaning, or set "
                    'loss_mask = "sampled" to accept the new one',
                    severity="warning",
                )
            )
    for path in DATA_SECTIONS:
        node = table_at(data, path)
        if isinstance(node, Mapping) and node.get("type") == "fake" and "loss_mask" in node:
            found.append(
                Problem(
                    'loss_mask has no effect: type = "fake" data has no messages to mask',
                    (*path, "loss_mask"),
                    severity="warning",
                )
            )
    return found + reading_warnings(data, reading)


def with_lines(problems: list[Problem], file: str | None, text: str | None) -> list[Problem]:
    """`problems` with their file and the line of their key (or of its closest table), in file
    order."""
    # Pydantic reports in model-field order; a reader wants file order.
    return sorted(located(problems, file, text), key=lambda problem: problem.line or 0)
