"""Words of a launch as a file writes them: literal text where the file says what it is, and an
`Unknown` piece where it cannot say (a variable set outside the file, a glob, a command
substitution, a Python expression computed at run time).

A launch reader (`shell.py`, `python_launches.py`) turns each word it reads into a `Word`; the
stack finder (`launch_stacks.py`) resolves a word with no unknown piece to one file, and turns a
word with unknown pieces into a pattern of the files it could name: every such file is held back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Unknown:
    """Text a launch holds that the file alone cannot say; `pattern`: a regex of what it could be.

    `reason` says why in words ("CFG_DIR is not set in this file", "a glob `*`").
    """

    reason: str
    pattern: str = ".*"


@dataclass(frozen=True)
class Anchor:
    """A directory the launch names by where it runs, not by text: the directory of the file
    holding the launch (`$(dirname "$0")`, `Path(__file__).parent`) or the repository root
    (`$(git rev-parse --show-toplevel)`)."""

    kind: str  # "holder" or "root"


HOLDER = Anchor("holder")
ROOT = Anchor("root")

Piece = str | Unknown | Anchor


@dataclass(frozen=True)
class Word:
    """One argument of a launch after every expansion the file allows, as pieces."""

    pieces: tuple[Piece, ...]
    written: str = ""  # as it stands in the file, for messages

    @staticmethod
    def of(*pieces: Piece, written: str = "") -> Word:
        return Word(merge_pieces(pieces), written)

    @property
    def text(self) -> str | None:
        """The literal text, or None when a piece is unknown or an anchor."""
        if all(isinstance(piece, str) for piece in self.pieces):
            return "".join(piece for piece in self.pieces if isinstance(piece, str))
        return None

    @property
    def unknowns(self) -> list[Unknown]:
        return [piece for piece in self.pieces if isinstance(piece, Unknown)]

    @property
    def literal_prefix(self) -> str:
        """The literal text before the first piece that is not literal."""
        prefix = []
        for piece in self.pieces:
            if not isinstance(piece, str):
                break
            prefix.append(piece)
        return "".join(prefix)

    def drop_prefix(self, count: int) -> Word:
        """This word without its first `count` characters (all of them literal)."""
        pieces = list(self.pieces)
        written = self.written[count:] if self.written.startswith("@") else self.written
        while count and pieces:
            first = pieces[0]
            assert isinstance(first, str)
            if len(first) <= count:
                count -= len(first)
                pieces.pop(0)
            else:
                pieces[0] = first[count:]
                count = 0
        return Word(tuple(pieces), written)

    def could_be_toml(self) -> bool:
        """Whether the word can name a `*.toml` file: it ends in `.toml`, or in an unknown piece
        (a literal `.json` ending rules it out)."""
        if not self.pieces:
            return False
        last = self.pieces[-1]
        if isinstance(last, Unknown):
            return True
        if isinstance(last, Anchor):
            return False
        if last.endswith(".toml"):
            return True
        # `$NAME.toml`, `${X}toml`: the literal tail may complete what the unknown started.
        return len(self.pieces) > 1 and ".toml".endswith(last) and last != ""

    def describe(self) -> str:
        return self.written or "".join(
            piece if isinstance(piece, str) else "…" for piece in self.pieces
        )


def merge_pieces(pieces: Iterable[Piece]) -> tuple[Piece, ...]:
    """Adjacent literal pieces joined, empty ones dropped."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str):
            if not piece:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + piece
                continue
        merged.append(piece)
    return tuple(merged)


def join_words(words: Sequence[Word], separator: str = " ") -> Word:
    pieces: list[Piece] = []
    for index, word in enumerate(words):
        if index:
            pieces.append(separator)
        pieces.extend(word.pieces)
    return Word(merge_pieces(pieces), separator.join(word.written for word in words))


def word_regex(pieces: Sequence[Piece]) -> str:
    """A regex of the texts `pieces` could stand for (anchors must have been replaced)."""
    parts = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(re.escape(piece))
        elif isinstance(piece, Unknown):
            parts.append(f"(?:{piece.pattern})")
        else:  # an anchor left in the middle of a word: any text
            parts.append("(?:.*)")
    return "".join(parts)
