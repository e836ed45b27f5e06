"""One way the mask commands (`audit`, `audit --tokenized`, `export`, `diff`) write their result.

`text` is for people: the command's table on stdout. `json` is one JSON document on stdout and
nothing else there, for CI. Either way, problems (bad rows, warnings) go to stderr as
`FILE[:LINE]: message` lines, and the report's `exit_code` decides how the command exits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

OUTPUT_FORMATS = ("text", "json")
Echo = Callable[..., None]


@dataclass(frozen=True)
class CommandOutput:
    """Where a command's result goes, in the format the user chose (`--format`)."""

    output_format: str = "text"
    echo: Echo = click.echo

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {self.output_format!r}")

    @property
    def json(self) -> bool:
        return self.output_format == "json"

    def write(self, text: str, payload: Mapping[str, Any], *, color: bool | None = None) -> None:
        """The result: `text`, or `payload` as JSON (what `json.dumps` cannot write, as text).
        `color` keeps (True) or strips (False) colours in `text`; None: only on a terminal."""
        if self.json:
            self.echo(json.dumps(payload, indent=2, default=str))
        elif text:
            self.echo(text, color=color)

    def note(self, text: str) -> None:
        """A line for people only (progress, where a file was written): on stderr."""
        if not self.json:
            self.echo(text, err=True)
