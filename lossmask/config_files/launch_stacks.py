"""From launch lines to stacks of files, and to the files a launch holds back.

A launch's paths are resolved as the launch would resolve them: from the directory it runs in
(`cd sub && ...`, a step's `working-directory`), which starts at the repository root, else at the
directory of the file that holds the line (prime-rl's docs are run from the root; a script may be
run from beside itself). A launch every layer of which names a file is a `Stack`. A launch that
names a missing file is a note, as before. A launch with a layer that cannot be resolved (a
variable set elsewhere, a glob, a command substitution, a computed Python value) or a layer that
is not TOML is a `Hold`: every file it could name (each known file its pattern matches) and every
file it does name is held back, never migrated alone, until `--stack` or `--standalone` says how
it is launched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from lossmask.config_files.launches import LaunchLine
from lossmask.config_files.stacks import SFT_COMMAND, Layer, Stack
from lossmask.config_files.words import Anchor, Piece, Unknown, Word, merge_pieces, word_regex
from lossmask.errors import Problem


@dataclass(frozen=True)
class Hold:
    """A launch that cannot be resolved, the files it holds back, and why in words."""

    launch: LaunchLine
    reasons: tuple[str, ...]
    files: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"the launch at {self.launch.where} (`{self.launch.command or '?'} "
            f"{self.launch.describe()}`) cannot be resolved: {'; '.join(self.reasons)}"
        )


@dataclass
class FoundStacks:
    stacks: list[Stack]
    notes: list[Problem]
    holds: list[Hold]


def _with_anchors(pieces: Sequence[Piece], holder: str, root: str) -> tuple[Piece, ...]:
    replaced: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, Anchor):
            replaced.append(holder if piece.kind == "holder" else root)
        else:
            replaced.append(piece)
    return merge_pieces(replaced)


def _starts(launch: LaunchLine, root: str) -> list[tuple[Piece, ...]]:
    """The directories the launch may start in, as pieces (absolute when known)."""
    holder = os.path.dirname(os.path.abspath(launch.file))
    bases: list[tuple[Piece, ...]] = []
    for start in dict.fromkeys([root, holder]):
        if launch.directory is None:
            bases.append((start,))
            continue
        pieces = _with_anchors(launch.directory.pieces, holder, root)
        first = pieces[0] if pieces else ""
        if isinstance(first, str) and os.path.isabs(first):
            bases.append(pieces)
        else:
            bases.append(merge_pieces([start, "/", *pieces]))
    return list(dict.fromkeys(bases))


def _resolve(
    word: Word, bases: Sequence[tuple[Piece, ...]], holder: str, root: str
) -> str | re.Pattern[str] | None:
    """The file a layer names (absolute), None when it names no file, or a pattern of the files
    it could name when a piece of it (or of its directory) is unknown."""
    pieces = _with_anchors(word.pieces, holder, root)
    if all(isinstance(piece, str) for piece in pieces):
        text = "".join(str(piece) for piece in pieces)
        if os.path.isabs(text):
            return os.path.normpath(text) if os.path.isfile(text) else None
        if all(len(base) == 1 and isinstance(base[0], str) for base in bases):
            for base in bases:
                candidate = os.path.normpath(os.path.join(str(base[0]), text))
                if os.path.isfile(candidate):
                    return candidate
            return None
    return _pattern(pieces, bases)


def _pattern(pieces: tuple[Piece, ...], bases: Sequence[tuple[Piece, ...]]) -> re.Pattern[str]:
    first = pieces[0] if pieces else ""
    if isinstance(first, str) and os.path.isabs(first):
        full = [_normalized(pieces)]
    elif isinstance(first, Unknown) and first.pattern == ".*":
        full = [_normalized(pieces)]  # may be absolute or relative to anything
    else:
        full = [_normalized(merge_pieces([*base, "/", *pieces])) for base in bases]
    return re.compile("|".join(f"(?:{regex})" for regex in full))


def _normalized(pieces: tuple[Piece, ...]) -> str:
    """A regex of the normalized absolute paths `pieces` could be. Where a `..` follows an
    unknown piece the directories cannot be followed, so any file with the same name matches."""
    seen_unknown = False
    texts: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str):
            if seen_unknown and ".." in piece.split("/"):
                name = str(pieces[-1]).rsplit("/", 1)[-1] if isinstance(pieces[-1], str) else ""
                return ".*" + re.escape(name)
            if not seen_unknown:
                piece = os.path.normpath(piece) + ("/" if piece.endswith("/") else "")
            piece = re.sub(r"/(\./)+", "/", re.sub(r"/{2,}", "/", piece))
        else:
            seen_unknown = True
        texts.append(piece)
    return word_regex(merge_pieces(texts))


def find_stacks(
    launches: Sequence[LaunchLine],
    root_of: Callable[[str], str],
    known_files: Collection[str],
    name_of: Callable[[str], str],
) -> FoundStacks:
    """The stacks, notes and holds of `launches`; `root_of(file)`: the repository root the
    launch in `file` runs from; `known_files`: absolute paths of the files a hold may name;
    `name_of(path)`: how a file is named in reports."""
    found: dict[Stack, list[str]] = {}
    notes: list[Problem] = []
    holds: list[Hold] = []
    for launch in launches:
        root = root_of(launch.file)
        holder = os.path.dirname(os.path.abspath(launch.file))
        bases = _starts(launch, root)
        layers: list[Layer] = []
        patterns: list[re.Pattern[str]] = []
        missing = None
        for layer in launch.layers:
            resolved = _resolve(layer.word, bases, holder, root)
            if isinstance(resolved, re.Pattern):
                patterns.append(resolved)
            elif resolved is None:
                missing = missing or layer
            else:
                layers.append(Layer(name_of(resolved), layer.at))
        reasons = launch.unresolved()
        if patterns or launch.unreadable_layer:
            held = [layer.path for layer in layers]
            held += [name_of(f) for f in known_files if any(p.fullmatch(f) for p in patterns)]
            holds.append(Hold(launch, tuple(reasons), tuple(dict.fromkeys(held))))
            continue
        if missing is not None:
            written = missing.word.describe()
            notes.append(
                Problem(
                    f"the launch `{launch.describe()}` names {written}, which is not a file "
                    "here; that stack is not used",
                    file=launch.file,
                    line=launch.line,
                )
            )
            continue
        command = SFT_COMMAND if launch.command == "lossmask" else launch.command
        found.setdefault(Stack(tuple(layers), command), []).append(launch.where)
    stacks = [Stack(stack.layers, stack.command, tuple(where)) for stack, where in found.items()]
    return FoundStacks(stacks, notes, holds)
