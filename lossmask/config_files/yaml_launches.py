"""Launches in YAML (GitHub Actions, GitLab CI, Kubernetes manifests, Helm values).

Read line by line, as a YAML parser would join the text, without a YAML library (the core install
has none): a literal block (`run: |`) is a script, a folded block (`run: >`) and a plain or
quoted scalar spread over several lines are joined as YAML folds them, a run of one-word sequence
items or a flow sequence (`command: [uv, run, sft, "@", a.toml]`) is one argument list, and a
sequence of commands (GitLab's `script:`) is a script. `env:` entries are variables of the
scripts; a step's `working-directory:` is the directory its `run:` starts in; GitHub's
`${{ env.NAME }}` reads the env entry and any other `${{ ... }}` is unknown. Comments are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lossmask.config_files.launches import LaunchLine, from_commands, launch_in_words
from lossmask.config_files.shell import SUBSTITUTE_CLOSE, SUBSTITUTE_OPEN, read_shell
from lossmask.config_files.words import Piece, Unknown, Word, merge_pieces

_KEY = re.compile(r"""(?P<key>"[^"]*"|'[^']*'|[^\s#'"{\[\-][^#:]*?|-[^\s#:][^#:]*?)\s*:(?:\s+|$)""")
_ITEM = re.compile(r"-(?:\s+|$)")
_BLOCK = re.compile(r"[|>][+-]?[0-9]?[+-]?\s*(?:#.*)?$")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class _Line:
    """One line: its indent, the column and name of its key (if any), and its value text."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        stripped = raw.lstrip(" ")
        self.indent = len(raw) - len(stripped)
        self.blank = not stripped.strip() or stripped.startswith("#")
        column = self.indent
        rest = stripped
        self.item = False
        while (match := _ITEM.match(rest)) is not None:
            self.item = True
            column += match.end()
            rest = rest[match.end() :]
        self.column = column
        key = _KEY.match(rest)
        self.key = key.group("key").strip("'\"") if key else None
        self.value = rest[key.end() :] if key else rest


def _strip_comment(value: str) -> str:
    match = re.search(r"\s#", value)
    return value[: match.start()] if match else value


def _quoted_end(text: str) -> int:
    """The index just past the quoted scalar `text` starts with, or -1 when it is not closed."""
    quote = text[:1]
    index = 1
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            if quote == "'" and text.startswith("''", index):
                index += 2
                continue
            return index + 1
        index += 1
    return -1


def _unquote(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        end = _quoted_end(value)
        if end > 0:
            value = value[:end]  # what follows the closing quote is a comment
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\(["\\/])', r"\1", value[1:-1]).replace("\\n", "\n").replace("\\t", "\t")
    return _strip_comment(value).strip()


def _expressions(text: str, env: dict[str, Word]) -> list[Piece]:
    """GitHub `${{ ... }}` expressions as pieces: `env.NAME` from the env entries, else unknown."""
    pieces: list[Piece] = []
    position = 0
    for match in _EXPRESSION.finditer(text):
        pieces.append(text[position : match.start()])
        name = match.group(1)
        if name.startswith("env.") and name[4:] in env:
            pieces.extend(env[name[4:]].pieces)
        else:
            pieces.append(Unknown(f"the workflow expression ${{{{ {name} }}}}"))
        position = match.end()
    pieces.append(text[position:])
    return list(merge_pieces(pieces))


def _env(lines: Sequence[_Line]) -> dict[str, Word]:
    """Every `env:` entry of the file; a name given different values is unknown."""
    values: dict[str, list[tuple[int, Word]]] = {}
    for index, line in enumerate(lines):
        if line.key != "env" or _strip_comment(line.value).strip():
            continue
        for number in range(index + 1, len(lines)):
            entry = lines[number]
            if entry.blank:
                continue
            if (
                entry.indent <= line.column - (2 if line.item else 0)
                and entry.column <= line.column
            ):
                break
            if entry.key is not None and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", entry.key):
                word = Word(tuple(_expressions(_unquote(entry.value), {})))
                values.setdefault(entry.key, []).append((number + 1, word))
    env: dict[str, Word] = {}
    for name, found in values.items():
        distinct = {word.pieces for _, word in found}
        if len(distinct) == 1:
            env[name] = found[0][1]
        else:
            at = ", ".join(str(number) for number, _ in found)
            env[name] = Word((Unknown(f"${name} is set to different values (lines {at})"),))
    return env


def _sibling(lines: Sequence[_Line], index: int, key: str) -> _Line | None:
    """The line of `key` in the same mapping as line `index`, if there is one."""
    column = lines[index].column
    for step in (-1, 1):
        number = index
        if step == -1 and lines[index].item:
            continue  # the item's first line: its siblings follow it
        while 0 <= number + step < len(lines):
            number += step
            line = lines[number]
            if line.blank:
                continue
            if line.column == column and line.key == key:
                return line
            if line.indent < column and not (line.item and line.column == column):
                break
            if line.item and line.column == column:
                if step == 1:
                    break
                if line.key == key:
                    return line
                break
    return None


def _block(lines: Sequence[_Line], index: int) -> tuple[list[str], list[int], int]:
    """The content lines of the block scalar opened on line `index`, their line numbers, and the
    index after the block."""
    parent = lines[index]
    content: list[str] = []
    numbers: list[int] = []
    number = index + 1
    base: int | None = None
    while number < len(lines):
        line = lines[number]
        if line.raw.strip():
            if line.indent <= _threshold(parent):
                break
            if base is None:
                base = line.indent
            if line.indent < base:
                break
        content.append(line.raw[base:] if base is not None else "")
        numbers.append(number + 1)
        number += 1
    while content and not content[-1].strip():
        content.pop()
        numbers.pop()
    return content, numbers, number


def _fold(content: Sequence[str], numbers: Sequence[int]) -> tuple[list[str], list[int]]:
    """A folded block as YAML joins it: runs of lines become one line; blank and more-indented
    lines keep their line breaks."""
    lines: list[str] = []
    first: list[int] = []
    paragraph: list[str] = []
    start = 0
    for text, number in zip(content, numbers, strict=True):
        if text and not text[0].isspace():
            if not paragraph:
                start = number
            paragraph.append(text)
            continue
        if paragraph:
            lines.append(" ".join(paragraph))
            first.append(start)
            paragraph = []
        if text:
            lines.append(text)
            first.append(number)
    if paragraph:
        lines.append(" ".join(paragraph))
        first.append(start)
    return lines, first


def _threshold(line: _Line) -> int:
    """Lines indented at most this much end a value that starts on `line`."""
    return line.column if line.key is not None else line.indent


def _closed(text: str, quote: str) -> bool:
    """Whether the quoted scalar that `text` starts is closed within it."""
    return _quoted_end(text) > 0


def _continued(lines: Sequence[_Line], index: int, value: str) -> tuple[str, int]:
    """A plain or quoted scalar with its continuation lines folded in, and the index after it."""
    threshold = _threshold(lines[index])
    text = value.strip()
    quote = text[:1] if text[:1] in ("'", '"', "[") else ""
    number = index + 1
    while number < len(lines):
        if quote in ("'", '"') and _closed(text, quote):
            break
        if quote == "[" and "]" in text:
            break
        line = lines[number]
        if not line.raw.strip():
            number += 1
            continue
        if not quote and (line.indent <= threshold or line.blank):
            break
        text += " " + line.raw.strip()
        number += 1
    return text, number


def yaml(text: str, file: str) -> list[LaunchLine]:
    lines = [_Line(raw) for raw in text.split("\n")]
    env = _env(lines)
    runs = {i for i, line in enumerate(lines) if line.key == "run"}
    defaults = any(
        line.key == "working-directory"
        and not any(_sibling(lines, r, "working-directory") is line for r in runs)
        for line in lines
    )
    found: list[LaunchLine] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.blank:
            index += 1
            continue
        value = line.value
        if value.lstrip()[:1] not in ("'", '"'):
            value = _strip_comment(value).rstrip()
        directory = _directory(lines, index, env, defaults) if line.key == "run" else None
        if _BLOCK.match(value.strip()):
            content, numbers, index = _block(lines, index)
            if value.strip().startswith(">"):
                content, numbers = _fold(content, numbers)
            found.extend(_script(content, numbers, file, env, directory))
            continue
        if line.item and line.key is None:
            index = _items(lines, index, file, env, found)
            continue
        if value.strip().startswith("["):
            start = index
            joined, index = _continued(lines, index, value)
            words = [_word(item, env) for item in _flow_items(joined)]
            launch = launch_in_words(words, file, start + 1)
            if launch is not None:
                found.append(launch)
            continue
        if not value.strip():
            index += 1
            continue
        joined, after = _continued(lines, index, value)
        if "@" in joined:
            found.extend(_script([_unquote(joined)], [index + 1], file, env, directory))
        index = after
    return found


def _directory(
    lines: Sequence[_Line], index: int, env: dict[str, Word], defaults: bool
) -> Word | None:
    sibling = _sibling(lines, index, "working-directory")
    if sibling is not None:
        return Word(tuple(_expressions(_unquote(sibling.value), env)))
    if defaults:
        return Word((Unknown("a `working-directory` default set elsewhere in this workflow"),))
    return None


def _script(
    content: Sequence[str],
    numbers: Sequence[int],
    file: str,
    env: dict[str, Word],
    directory: Word | None,
) -> list[LaunchLine]:
    text = "\n".join(content)
    if "@" not in text:
        return []
    substitutions: list[Word] = []

    def placeholder(match: re.Match[str]) -> str:
        substitutions.append(Word(tuple(_expressions(match.group(), env)), match.group()))
        return f"{SUBSTITUTE_OPEN}{len(substitutions) - 1}{SUBSTITUTE_CLOSE}"

    text = _EXPRESSION.sub(placeholder, text)
    commands = read_shell(text, variables=env, substitutions=substitutions)
    found = from_commands(commands, file, list(numbers))
    if directory is None:
        return found
    return [
        LaunchLine(
            launch.file,
            launch.line,
            launch.command,
            launch.layers,
            _join_directory(directory, launch.directory),
            launch.unreadable_layer,
        )
        for launch in found
    ]


def _join_directory(start: Word, then: Word | None) -> Word:
    if then is None:
        return start
    first = then.pieces[0] if then.pieces else ""
    if not isinstance(first, str) or first.startswith("/"):
        return then
    return Word(merge_pieces([*start.pieces, "/", *then.pieces]))


def _items(
    lines: Sequence[_Line], index: int, file: str, env: dict[str, Word], found: list[LaunchLine]
) -> int:
    """A run of sequence items holding plain scalars: one argument list when each is one word,
    else a script of one command per item. Returns the index after the run."""
    column = lines[index].column
    items: list[str] = []
    numbers: list[int] = []
    number = index
    while number < len(lines):
        line = lines[number]
        if line.blank:
            number += 1
            continue
        if not (line.item and line.key is None and line.column == column):
            break
        value = line.value.strip()
        if not value or _BLOCK.match(value) or value[:1] in "[{":
            break
        items.append(_unquote(value))
        numbers.append(number + 1)
        number += 1
    if not items:
        return index + 1
    if any("@" in item for item in items):
        if all(len(item.split()) <= 1 for item in items):
            launch = launch_in_words([_word(item, env) for item in items], file, numbers[0])
            if launch is not None:
                found.append(launch)
        else:
            found.extend(_script(items, numbers, file, env, None))
    return number


def _flow_items(text: str) -> list[str]:
    inner = text.strip()
    inner = inner[1 : inner.rfind("]")] if "]" in inner else inner[1:]
    items: list[str] = []
    current = ""
    quote = ""
    for char in inner:
        if quote:
            current += char
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
            current += char
        elif char == ",":
            items.append(_unquote(current))
            current = ""
        else:
            current += char
    if current.strip():
        items.append(_unquote(current))
    return items


def _word(item: str, env: dict[str, Word]) -> Word:
    return Word(tuple(_expressions(item, env)), item)
