"""Shell words as the shell expands them, as far as the file alone says (`shell.read_shell`
puts them together into commands).

`Reader` turns text into tokens: words after quote removal and the expansions a file can settle
by itself (variables in `Scope`, `${X:-default}`, `$(dirname "$0")`, `$(git rev-parse
--show-toplevel)`, field splitting of an unquoted value), operators, redirections and line ends.
What it cannot settle becomes an `Unknown` piece saying why. A quote left open on its line is
read as a plain character, so prose reads as well as scripts do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from lossmask.config_files.words import HOLDER, ROOT, Piece, Unknown, Word

SUBSTITUTE_OPEN = "\ue000"
SUBSTITUTE_CLOSE = "\ue001"

_PLACEHOLDER = re.compile(f"{SUBSTITUTE_OPEN}([0-9]+){SUBSTITUTE_CLOSE}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")
_REDIRECTS = ("<<<", "<<-", "<<", ">>", "&>>", "&>", ">&", "<&", ">|", "<>", "<", ">")
_SCRIPT_DIR = re.compile(
    r"""\s*(?:cd\s+)?dirname\s+(?:--\s+)?"?(?:\$0|\$\{0\}|\$\{BASH_SOURCE(?:\[0\])?\})"?\s*"""
)
_SCRIPT_DIR_PWD = re.compile(
    r"""\s*cd\s+"?\$\(\s*dirname\s+(?:--\s+)?"?(?:\$0|\$\{0\}|\$\{BASH_SOURCE(?:\[0\])?\})"?\s*\)"?"""
    r"""\s*(?:>\s*/dev/null\s*)?(?:&&|;)\s*pwd(?:\s+-P)?\s*"""
)
_TOP_LEVEL = re.compile(r"\s*git\s+rev-parse\s+--show-toplevel\s*")


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "op", "redirect" or "newline"
    text: str  # the operator, or the word as written
    line: int
    word: Word | None = None


@dataclass
class Scope:
    variables: dict[str, Word] = field(default_factory=dict)
    assigned_at: dict[str, list[int]] = field(default_factory=dict)
    directory: Word | None = None
    depth: int = 0  # inside if/case/loops/functions: assignments there may not run

    def copy(self) -> Scope:
        return Scope(dict(self.variables), dict(self.assigned_at), self.directory, self.depth)


def unset(name: str) -> Word:
    return Word((Unknown(f"${name} is not set in this file"),), f"${name}")


class Reader:
    """One pass over a text; `scope` carries variables and the directory between commands."""

    def __init__(self, text: str, first_line: int, scope: Scope, substitutions: Sequence[Word]):
        self.text = text
        self.position = 0
        self.line = first_line
        self.scope = scope
        self.substitutions = substitutions

    # --- expansions ---------------------------------------------------------------------------

    def variable(self, name: str) -> Word:
        return self.scope.variables.get(name) or unset(name)

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
            return list((value or unset(name)).pieces)
        if value is not None and (value.pieces or ":" not in operator):
            return list(value.pieces)
        # Not set in this file: the default is what the file says the launch uses.
        return list(Reader(default, self.line, self.scope, self.substitutions).expand_all())

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

    def tokens(self) -> Iterator[Token]:
        """The words, operators, redirections and line ends of the text, in order."""
        text = self.text
        while self.position < len(text):
            char = text[self.position]
            if char == "\n":
                self.position += 1
                yield Token("newline", "", self.line)
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
                yield Token("redirect", redirect, self.line)
                continue
            operator = next((op for op in _OPERATORS if text.startswith(op, self.position)), None)
            if operator is not None:
                self.position += len(operator)
                yield Token("op", operator, self.line)
                continue
            line = self.line
            for word, raw in self.word():
                yield Token("word", raw, line, word)

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
