"""Shell text read as the shell would run it, as far as the file alone says.

`read_shell` splits a script into simple commands, each a tuple of `Word`s after quote removal
and the expansions a file can settle by itself: variables assigned earlier in the same text
(`X=...`, `export X=...`), `${X:-default}` (its default where the file sets no X), `$(dirname
"$0")` (the directory of the file) and `$(git rev-parse --show-toplevel)`. Whatever it cannot
settle becomes an `Unknown` piece saying why: a variable the file does not set, one it sets to
different values in different branches, a command substitution, a glob, `~`. `cd DIR` moves
the commands after it (for the rest of the script, or of the line, or of a `( ... )` subshell).

A quote left open on its line is read as a plain character, so Markdown prose and comments
(`don't run uv run sft @ a.toml`) read as well as scripts do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lossmask.config_files.shell_words import (
    SUBSTITUTE_CLOSE,
    SUBSTITUTE_OPEN,
    Reader,
    Scope,
    unset,
)
from lossmask.config_files.words import Anchor, Unknown, Word, merge_pieces

__all__ = ["SUBSTITUTE_CLOSE", "SUBSTITUTE_OPEN", "Command", "read_shell"]

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=")
_OPENERS = {"if", "case", "for", "while", "until", "select", "{"}
_CLOSERS = {"fi", "esac", "done", "}"}
_DECLARERS = {"export", "readonly", "local", "declare", "typeset"}


@dataclass(frozen=True)
class Command:
    """One simple command: its words, the line it starts on, and the directory it runs in
    (relative to where the text starts running; None when no `cd` moved it)."""

    line: int
    words: tuple[Word, ...]
    directory: Word | None = None


def read_shell(
    text: str,
    *,
    first_line: int = 1,
    variables: Mapping[str, Word] | None = None,
    substitutions: Sequence[Word] = (),
    keep_directory: bool = True,
) -> list[Command]:
    """The simple commands of a script, in order, each with its words and directory.

    `keep_directory=False`: a `cd` moves only the rest of its own line (Markdown, where a `cd`
    on a line of its own is the reader's own step, such as entering a fresh clone).
    """
    scope = Scope(variables=dict(variables or {}))
    reader = Reader(text, first_line, scope, substitutions)
    commands: list[Command] = []
    words: list[tuple[Word, str]] = []
    start_line = first_line
    saved: list[Scope] = []
    heredocs: list[str] = []
    skip_next = False
    for token in reader.tokens():
        kind, value = token.kind, token.text
        if token.word is not None:
            if skip_next:  # the target of a redirection, or a here-document's delimiter
                skip_next = False
                if heredocs and heredocs[-1] == "":
                    heredocs[-1] = value.strip("'\"").lstrip("-")
                continue
            if not words:
                start_line = token.line
            words.append((token.word, value))
            continue
        if kind == "redirect":
            skip_next = True
            if value in ("<<", "<<-"):
                heredocs.append("")
            continue
        if words:
            _finish(commands, words, start_line, reader.scope)
            words = []
        if value == "(":
            saved.append(reader.scope.copy())
        elif value == ")" and saved:
            reader.scope = saved.pop()
        if kind == "newline" and heredocs:
            _skip_heredocs(reader, [h for h in heredocs if h])
            heredocs = []
        if kind == "newline" and not keep_directory:
            reader.scope.directory = None
    if words:
        _finish(commands, words, start_line, reader.scope)
    return commands


def _skip_heredocs(reader: Reader, delimiters: list[str]) -> None:
    """Move past the bodies of here-documents (their text is not shell)."""
    text = reader.text
    for delimiter in delimiters:
        while reader.position < len(text):
            end = text.find("\n", reader.position)
            end = len(text) if end < 0 else end
            line = text[reader.position : end]
            reader.position = min(end + 1, len(text))
            reader.line += 1
            if line.strip() == delimiter:
                break


def _finish(
    commands: list[Command], words: list[tuple[Word, str]], line: int, scope: Scope
) -> None:
    """Record one simple command, then apply what it does to the scope (assign, cd, nesting)."""
    raws = [raw for _, raw in words]
    first = raws[0]
    if first in _OPENERS or first == "function":
        scope.depth += 1
    if first in ("then", "do", "else", "elif") and len(words) == 1:
        return
    if first in _CLOSERS:
        scope.depth = max(0, scope.depth - 1)
        return
    if first in ("then", "do", "else", "elif"):
        words, raws = words[1:], raws[1:]
    index = 0
    if raws and raws[0] in _DECLARERS:
        index = 1
        while index < len(raws) and raws[index].startswith("-"):
            index += 1
    assignments = []
    while index < len(raws) and _ASSIGNMENT.match(raws[index]):
        assignments.append(words[index])
        index += 1
    rest = words[index:]
    if not rest:
        for word, raw in assignments:
            _assign(scope, word, raw, line)
        return
    command_words = tuple(word for word, _ in rest)
    commands.append(Command(line, command_words, scope.directory))
    name = rest[0][1]
    if name in ("cd", "pushd"):
        arguments = [w for w, raw in rest[1:] if not raw.startswith("-")]
        _change_directory(scope, arguments[0] if arguments else None)
    elif name == "popd":
        _change_directory(scope, Word((Unknown("popd"),)))
    elif name == "unset":
        for _, raw in rest[1:]:
            scope.variables[raw] = unset(raw)


def _assign(scope: Scope, word: Word, raw: str, line: int) -> None:
    match = _ASSIGNMENT.match(raw)
    assert match is not None
    name, append = match.group(1), match.group(2)
    value = word.drop_prefix(len(match.group()))
    if append:
        value = Word(merge_pieces([*scope.variables.get(name, unset(name)).pieces, *value.pieces]))
    lines = scope.assigned_at.setdefault(name, [])
    lines.append(line)
    previous = scope.variables.get(name)
    if scope.depth and previous is not None and previous.pieces != value.pieces:
        # Set in a branch or a loop: which value a launch sees depends on how the script runs.
        at = ", ".join(str(n) for n in sorted(set(lines)))
        value = Word((Unknown(f"${name} is set to different values (lines {at})"),))
    elif scope.depth and previous is None:
        value = Word(
            (Unknown(f"${name} is set only inside a branch, loop or function (line {line})"),)
        )
    scope.variables[name] = Word(value.pieces, f"${name}")


def _change_directory(scope: Scope, target: Word | None) -> None:
    if target is None:
        scope.directory = Word((Unknown("`cd` to the home directory"),))
        return
    if scope.depth:
        scope.directory = Word((Unknown("a `cd` inside a branch, loop or function"),))
        return
    pieces = target.pieces
    first = pieces[0] if pieces else ""
    absolute = isinstance(first, Anchor) or (isinstance(first, str) and first.startswith("/"))
    if scope.directory is None or absolute:
        scope.directory = Word(pieces, target.written)
    else:
        scope.directory = Word(merge_pieces([*scope.directory.pieces, "/", *pieces]))
