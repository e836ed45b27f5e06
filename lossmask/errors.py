"""Problems found in a config, said in TOML words (file, dotted key, line), shared by every command.

One exception type, `ConfigError`, carries every problem of one file; a command prints each as
`path:line: key.path: message`, the format compilers and editors already know how to jump to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_key(path: Sequence[str | int]) -> str:
    """A TOML key path as a user would type it: `data.loss_mask.tool`, `eval.source[0].name`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
        out = f"{out}.{text}" if out else text
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in one file."""

    message: str
    key: tuple[str | int, ...] = ()
    file: str | None = None
    line: int | None = None
    suggestion: str | None = None
    # "note": a fact worth a line that asks for nothing (never counted as a warning).
    severity: Literal["error", "warning", "note"] = "error"

    @property
    def key_text(self) -> str:
        return format_key(self.key)

    def format(self) -> str:
        location = self.file or "<string>"
        if self.line is not None:
            location += f":{self.line}"
        parts = [location]
        if self.key:
            parts.append(self.key_text)
        if self.severity != "error":
            parts.append(self.severity)
        text = ": ".join(parts) + ": " + self.message
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text


@dataclass
class ConfigError(Exception):
    """A config could not be read or did not validate. `problems` holds every error found."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(problem.format() for problem in self.problems)

    # The first problem's location, for callers that handle one error at a time.
    @property
    def file(self) -> str | None:
        return self.problems[0].file if self.problems else None

    @property
    def key(self) -> str:
        return self.problems[0].key_text if self.problems else ""

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def suggestion(self) -> str | None:
        return self.problems[0].suggestion if self.problems else None

    @classmethod
    def single(cls, message: str, **where: object) -> ConfigError:
        return cls([Problem(message, **where)])  # type: ignore[arg-type]


class UnreadableFileError(ConfigError):
    """The file could not be read as TOML text at all: missing, no permission, not a regular file
    (a FIFO, a device), not UTF-8, or nested too deeply to parse.

    Commands exit 2 for these, as for usage errors; a readable but invalid config exits 1.
    """
