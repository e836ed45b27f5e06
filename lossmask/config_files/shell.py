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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from lossmask.config_files.words import HOLDER, ROOT, Anchor, Piece, Unknown, Word, merge_pieces

# A piece of text put in place by the caller (a Make variable, a GitHub `${{ }}` expression):
# SUBSTITUTE_OPEN + its index in `substitutions` + SUBSTITUTE_CLOSE.
SUBSTITUTE_OPEN = "\ue000"
SUBSTITUTE_CLOSE = "\ue001"

_PLACEHOLDER = re.compile(f"{SUBSTITUTE_OPEN}([0-9]+){SUBSTITUTE_CLOSE}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=")
_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")
_REDIRECTS = ("<<<", "<<-", "<<", ">>", "&>>", "&>", ">&", "<&", ">|", "<>", "<", ">")
_OPENERS = {"if", "case", "for", "while", "until", "select", "{"}
_CLOSERS = {"fi", "esac", "done", "}"}
_DECLARERS = {"export", "readonly", "local", "declare", "typeset"}
_SCRIPT_DIR = re.compile(
    r"""\s*(?:cd\s+)?dirname\s+(?:--\s+)?"?(?:\$0|\$\{0\}|\$\{BASH_SOURCE(?:\[0\])?\})"?\s*"""
)
_SCRIPT_DIR_PWD = re.compile(
    r"""\s*cd\s+"?\$\(\s*dirname\s+(?:--\s+)?"?(?:\$0|\$\{0\}|\$\{BASH_SOURCE(?:\[0\])?\})"?\s*\)"?"""
    r"""\s*(?:>\s*/dev/null\s*)?(?:&&|;)\s*pwd(?:\s+-P)?\s*"""
)
_TOP_LEVEL = re.compile(r"\s*git\s+rev-parse\s+--show-toplevel\s*")


@dataclass(frozen=True)
class Command:
    """One simple command: its words, the line it starts on, and the directory it runs in
    (relative to where the text starts running; None when no `cd` moved it)."""

    line: int
    words: tuple[Word, ...]
    directory: Word | None = None


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "op", "redirect" or "newline"
    text: str  # the operator, or the word as written
    line: int
    word: Word | None = None


@dataclass
class _Scope:
    variables: dict[str, Word] = field(default_factory=dict)
    assigned_at: dict[str, list[int]] = field(default_factory=dict)
    directory: Word | None = None
    depth: int = 0  # inside if/case/loops/functions: assignments there may not run

    def copy(self) -> _Scope:
        return _Scope(dict(self.variables), dict(self.assigned_at), self.directory, self.depth)


def _unset(name: str) -> Word:
    return Word((Unknown(f"${name} is not set in this file"),), f"${name}")


class _Reader:
    """One pass over a text; `scope` carries variables and the directory between commands."""

    def __init__(self, text: str, first_line: int, scope: _Scope, substitutions: Sequence[Word]):
        self.text = text
        self.position = 0
        self.line = first_line
        self.scope = scope
        self.substitutions = substitutions

    # --- expansions ---------------------------------------------------------------------------

    def variable(self, name: str) -> Word:
        return self.scope.variables.get(name) or _unset(name)

    def _closing(self, start: int, opener: str, closer: str) -> int:
        """Index of the `closer` matching the `opener` before `start` (quotes skipped), or -1."""
        depth, index, text = 1, start, self.text
        while index < len(text):
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == "'" and opener != "`":
                end = text.find("'", index + 1)
                index = end + 1 if end >= 0 else index + 1
                continue
            if char == opener and opener != closer:
                depth += 1
            elif char == closer:
                depth -= 1
                if depth == 0:
                    return index
            elif char == "\n" and opener == "`":
                return -1
            index += 1
        return -1

    def command_substitution(self, inner: str) -> list[Piece]:
        if _SCRIPT_DIR.fullmatch(inner) or _SCRIPT_DIR_PWD.fullmatch(inner):
            return [HOLDER]
        if _TOP_LEVEL.fullmatch(inner):
            return [ROOT]
        if inner.strip() == "pwd":
            # Where the script is at that point: relative to where it started.
            return list(self.scope.directory.pieces) if self.scope.directory else ["."]
        short = " ".join(inner.split())
        return [Unknown(f"the command substitution $({short[:60]})")]

    def dollar(self) -> list[Piece]:
        """Expand the `$...` at `position` (just past the `$`)."""
        text, start = self.text, self.position
        if text.startswith("((", start):
            end = text.find("))", start)
            self.position = end + 2 if end >= 0 else len(text)
            return [Unknown("an arithmetic expansion $((...))")]
        if text.startswith("(", start):
            end = self._closing(start + 1, "(", ")")
            if end < 0:
                return ["$"]
            self.position = end + 1
            return self.command_substitution(text[start + 1 : end])
        if text.startswith("{", start):
            end = self._closing(start + 1, "{", "}")
            if end < 0:
                return ["$"]
            self.position = end + 1
            return self.parameter(text[start + 1 : end])
        match = _NAME.match(text, start)
        if match:
            self.position = match.end()
            return list(self.variable(match.group()).pieces)
        if start < len(text) and text[start] in "0123456789@*#?$!-":
            self.position = start + 1
            return [Unknown(f"the shell parameter ${text[start]}, set when the script runs")]
        return ["$"]

    def parameter(self, inner: str) -> list[Piece]:
        if inner in ("BASH_SOURCE", "BASH_SOURCE[0]", "0"):
            return [Unknown("the script's own path")]
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])(.*))?", inner, re.DOTALL)
        if match is None:
            return [Unknown(f"the parameter expansion ${{{inner[:40]}}}")]
        name, operator, default = match.groups()
        value = self.scope.variables.get(name)
        if operator is None:
            return list((value or _unset(name)).pieces)
        if value is not None and (value.pieces or ":" not in operator):
            return list(value.pieces)
        # Not set in this file: the default is what the file says the launch uses.
        return list(_Reader(default, self.line, self.scope, self.substitutions).expand_all())

    def expand_all(self) -> list[Piece]:
        """Every piece of the whole text read as inside double quotes (for defaults)."""
        pieces: list[Piece] = []
        while self.position < len(self.text):
            pieces.extend(self.in_double_quotes_char())
        return pieces

    def in_double_quotes_char(self) -> list[Piece]:
        text = self.text
        char = text[self.position]
        self.position += 1
        if char == "$":
            return self.dollar()
        if char == "`":
            end = self._closing(self.position, "`", "`")
            if end >= 0:
                inner, self.position = text[self.position : end], end + 1
                return self.command_substitution(inner)
            return ["`"]
        if char == "\\" and self.position < len(text) and text[self.position] in '$`"\\\n':
            self.position += 1
            return [text[self.position - 1]] if text[self.position - 1] != "\n" else []
        if char == SUBSTITUTE_OPEN:
            return self.substitution()
        return [char]

    def substitution(self) -> list[Piece]:
        end = self.text.find(SUBSTITUTE_CLOSE, self.position)
        index = int(self.text[self.position : end])
        self.position = end + 1
        return list(self.substitutions[index].pieces)

    # --- words and commands -------------------------------------------------------------------

    def tokens(self) -> Iterator[_Token]:
        """The words, operators, redirections and line ends of the text, in order."""
        text = self.text
        while self.position < len(text):
            char = text[self.position]
            if char == "\n":
                self.position += 1
                yield _Token("newline", "", self.line)
                self.line += 1
                continue
            if char in " \t\r":
                self.position += 1
                continue
            if char == "\\" and text.startswith("\n", self.position + 1):
                self.position += 2
                self.line += 1
                continue
            if char == "#":
                end = text.find("\n", self.position)
                self.position = end if end >= 0 else len(text)
                continue
            redirect = next((r for r in _REDIRECTS if text.startswith(r, self.position)), None)
            if redirect is not None:
                self.position += len(redirect)
                yield _Token("redirect", redirect, self.line)
                continue
            operator = next((op for op in _OPERATORS if text.startswith(op, self.position)), None)
            if operator is not None:
                self.position += len(operator)
                yield _Token("op", operator, self.line)
                continue
            line = self.line
            for word, raw in self.word():
                yield _Token("word", raw, line, word)

    def word(self) -> list[tuple[Word, str]]:
        """The word(s) at `position`: one, or several where an unquoted variable splits."""
        text, start = self.text, self.position
        words: list[tuple[Word, str]] = []
        pieces: list[Piece] = []
        while self.position < len(text):
            char = text[self.position]
            if char in " \t\r\n;&|()<>":
                break
            if char == "\\":
                following = text[self.position + 1 : self.position + 2]
                self.position += 2
                if following == "\n":
                    self.line += 1
                else:
                    pieces.append(following)
                continue
            if char == "'":
                end = text.find("'", self.position + 1)
                if end < 0 or "\n" in text[self.position : end]:
                    pieces.append("'")  # prose: an apostrophe, not a quote
                    self.position += 1
                    continue
                pieces.append(text[self.position + 1 : end])
                self.position = end + 1
                continue
            if char == '"':
                end = self._closing_double_quote(self.position + 1)
                if end < 0:
                    pieces.append('"')
                    self.position += 1
                    continue
                self.position += 1
                while self.position < end:
                    pieces.extend(self.in_double_quotes_char())
                self.position = end + 1
                continue
            if char == "$":
                self.position += 1
                expanded = self.dollar()
                if len(expanded) == 1 and isinstance(expanded[0], str) and expanded[0] != "$":
                    parts = expanded[0].split()
                    if len(parts) > 1 or (parts and expanded[0] != parts[0]):
                        # Field splitting: an unquoted value with spaces is several words.
                        leading, trailing = expanded[0][:1].isspace(), expanded[0][-1:].isspace()
                        if leading and pieces:
                            words.append((Word.of(*pieces), text[start : self.position]))
                            pieces = []
                        for part in parts[:-1]:
                            pieces.append(part)
                            words.append((Word.of(*pieces), text[start : self.position]))
                            pieces = []
                        pieces.append(parts[-1])
                        if trailing:
                            words.append((Word.of(*pieces), text[start : self.position]))
                            pieces = []
                        continue
                pieces.extend(expanded)
                continue
            if char == "`":
                end = self._closing(self.position + 1, "`", "`")
                if end < 0:
                    pieces.append("`")
                    self.position += 1
                    continue
                pieces.extend(self.command_substitution(text[self.position + 1 : end]))
                self.position = end + 1
                continue
            if char == SUBSTITUTE_OPEN:
                self.position += 1
                pieces.extend(self.substitution())
                continue
            if char == "~" and self.position == start:
                pieces.append(Unknown("~ (the home directory of whoever runs it)"))
                self.position += 1
                continue
            glob = _glob(text, self.position)
            if glob is not None:
                unknown, self.position = glob
                pieces.append(unknown)
                continue
            pieces.append(char)
            self.position += 1
        raw = self.restore(text[start : self.position])
        if pieces or self.position > start:
            words.append((Word.of(*pieces), raw))
        return [(Word(word.pieces, raw), raw) for word, _ in words]

    def restore(self, raw: str) -> str:
        """`raw` with each placeholder put back as the text it stands for."""
        if SUBSTITUTE_OPEN not in raw:
            return raw
        return _PLACEHOLDER.sub(lambda m: self.substitutions[int(m.group(1))].written, raw)

    def _closing_double_quote(self, index: int) -> int:
        text = self.text
        while index < len(text):
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == '"':
                return index
            if char == "$" and text.startswith("(", index + 1):
                end = self._closing(index + 2, "(", ")")
                index = end + 1 if end >= 0 else index + 1
                continue
            if char == "\n":
                return -1  # a quote left open on its line is a plain character
            index += 1
        return -1


def _glob(text: str, position: int) -> tuple[Unknown, int] | None:
    char = text[position]
    if char == "*":
        return Unknown("a glob `*`", "[^/]*"), position + 1
    if char == "?":
        return Unknown("a glob `?`", "[^/]"), position + 1
    if char == "[":
        end = text.find("]", position + 2)
        if end > 0 and not any(c in text[position:end] for c in " \t\n/"):
            members = text[position + 1 : end].replace("\\", "\\\\")
            if members.startswith("!"):
                members = "^" + members[1:]
            return Unknown(f"a glob `{text[position : end + 1]}`", f"[{members}]"), end + 1
    return None


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
    scope = _Scope(variables=dict(variables or {}))
    reader = _Reader(text, first_line, scope, substitutions)
    commands: list[Command] = []
    words: list[tuple[Word, str]] = []
    start_line = first_line
    saved: list[_Scope] = []
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


def _skip_heredocs(reader: _Reader, delimiters: list[str]) -> None:
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
    commands: list[Command], words: list[tuple[Word, str]], line: int, scope: _Scope
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
            scope.variables[raw] = _unset(raw)


def _assign(scope: _Scope, word: Word, raw: str, line: int) -> None:
    match = _ASSIGNMENT.match(raw)
    assert match is not None
    name, append = match.group(1), match.group(2)
    value = word.drop_prefix(len(match.group()))
    if append:
        value = Word(merge_pieces([*scope.variables.get(name, _unset(name)).pieces, *value.pieces]))
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


def _change_directory(scope: _Scope, target: Word | None) -> None:
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
