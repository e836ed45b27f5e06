"""Where new lines go in a tomlkit document, in the user's own style: a step says *what* to add.

`add_table(document, path, pairs, comment)` writes a table of `key = value` lines at `path`:

- `path` written as an inline table (`data = { ... }`): the pairs are appended inside its braces,
  keeping its spacing, and the comment goes on the line above (TOML allows none inside);
- `path` is a `[path]` table: a `[path.key]` table right after its own keys, before its
  sub-tables, indented like them;
- `path` written with dotted keys (`data.name = ...`): `path.key.x = value` lines after the last;
- `path` only implied by a sub-table (`[data.extra]`): the new table first, inside it;
- `path` absent: a new `[path.key]` table at the end of the document.

Every new block starts on a line of its own and is separated by a blank line from a header that
follows it. The caller re-parses and compares the result (`safety`), so a misplacement is an error,
never a silently different file.
"""

from __future__ import annotations

from collections.abc import Sequence

import tomlkit
from tomlkit import TOMLDocument
from tomlkit.items import InlineTable, Item, Table, Whitespace

from lossmask.errors import format_key
from lossmask.migrate import tomlkit_edit as edit
from lossmask.toml_text import TablePath as KeyPath


def _toml_bool(value: bool | str) -> str:
    return tomlkit.item(value).as_string()


def _inline_pairs_text(pairs: Sequence[tuple[str, str]], spaced: bool) -> str:
    inner = ", ".join(f"{key} = {value}" for key, value in pairs)
    return "{ " + inner + " }" if spaced else "{" + inner + "}"


def _extend_inline(entry: edit.Entry, pairs: Sequence[tuple[str, str]]) -> None:
    """Append `key = value` pairs to a one-line inline table, keeping its spacing.

    tomlkit's own append renders `{ a = 1,  b = 2}` (space moved, doubled); rewriting the inline
    table's text and re-parsing it keeps the user's `{ a = 1 }` or `{a = 1}` style.
    """
    text = entry.item.as_string()
    if "\n" in text or not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"{format_key(entry.path)} is not a one-line inline table")
    inner = text[1:-1]
    body = inner.rstrip()
    trailing = inner[len(body) :]
    addition = ", ".join(f"{key} = {value}" for key, value in pairs)
    if body.strip():
        new_inner = f"{body}, {addition}{trailing}"
    else:
        leading = inner[: len(inner) - len(inner.lstrip())]
        new_inner = f"{leading}{addition}{trailing}"
    edit.replace_item(entry, edit.parse_value("{" + new_inner + "}"))


def _line_indent(entry: edit.Entry) -> str:
    item: Item = entry.container.body[entry.index][1]
    while (
        not isinstance(item, InlineTable) and hasattr(item, "value") and hasattr(item.value, "body")
    ):
        children = [child for key, child in item.value.body if key is not None]
        if not children:
            break
        item = children[0]
    return str(item.trivia.indent)


def _holds(outer: Item, inner: Item) -> bool:
    children = [child for key, child in outer.value.body if key is not None]
    return any(
        child is inner
        or (hasattr(child, "value") and hasattr(child.value, "body") and _holds(child, inner))
        for child in children
    )


def _outermost_implicit(document: TOMLDocument, entry: edit.Entry) -> edit.Entry:
    """The outermost header-less table that holds `entry` (`val` for an implicit `val.data`)."""
    for depth in range(1, len(entry.path)):
        for outer in edit.entries_at(document, entry.path[:depth]):
            if outer.kind == "super" and _holds(outer.item, entry.item):
                return outer
    return entry


def _header_indent(table: Table) -> str:
    """Sub-tables line up with the table's first sub-table, else with its own header."""
    for key, item in table.value.body:
        if key is not None and isinstance(item, Table) and not key.is_dotted():
            return str(item.trivia.indent)
    return str(table.trivia.indent)


def _glued_after(document: TOMLDocument, header: edit.Entry, at: int) -> bool:
    """Whether a block inserted at `at` in `header`'s table would touch a line that follows.

    A blank line already there keeps them apart; at the end of the table, whatever comes after
    the table in the file (the next header) would follow directly.
    """
    body = header.item.value.body
    if at < len(body):
        return not isinstance(body[at][1], Whitespace)
    found = False
    for entry in edit.walk(document):
        if entry.item is header.item:
            found = True
        elif found and entry.path[: len(header.path)] != header.path:
            return True
    return False


def add_table(
    document: TOMLDocument,
    path: KeyPath,
    key: str,
    pairs: Sequence[tuple[str, bool | str]],
    comment: str,
) -> None:
    """Write the table `key` (its `pairs`) into the table at `path`, under `comment`."""
    entries = edit.entries_at(document, path) if path else []
    inline = next((e for e in entries if e.kind == "inline"), None)
    if inline is not None:
        spaced = inline.item.as_string().startswith("{ ")
        texts = [(name, _toml_bool(value)) for name, value in pairs]
        _extend_inline(inline, [(key, _inline_pairs_text(texts, spaced))])
        edit.insert_entries(
            inline.container, inline.index, [edit.comment_entry(comment, _line_indent(inline))]
        )
        return
    header = next((e for e in entries if e.kind == "header"), None)
    if header is not None:
        table: Table = header.item  # type: ignore[assignment]
        container = table.value
        at = edit.own_keys_end(table)
        indent = _header_indent(table)
        key_indent = edit.last_indent(container, at) or indent
        block = [
            edit.comment_entry(comment, indent),
            edit.table_entry((*path, key), pairs, indent, key_indent),
        ]
        if _glued_after(document, header, at):
            block.append(edit.blank_line())
        edit.insert_entries(container, at, [edit.blank_line(), *block] if at > 0 else block)
        return
    dotted = [e for e in entries if e.kind == "dotted"]
    if dotted:
        last = max(dotted, key=lambda e: e.index)
        indent = _line_indent(last)
        lines = [
            edit.dotted_line((*last.relative, key, name), value, indent) for name, value in pairs
        ]
        edit.insert_entries(
            last.container, last.index + 1, [edit.comment_entry(comment, indent), *lines]
        )
        return
    implicit = next((e for e in entries if e.kind == "super"), None)
    if implicit is not None:
        # Only sub-tables such as `[data.extra]` define the section: put the new table first. The
        # comment goes in the parent, above the implicit table: inside it, tomlkit would have to
        # write a `[data]` header for it.
        first = next((item for k, item in implicit.item.value.body if k is not None), None)
        indent = str(first.trivia.indent) if isinstance(first, Table) else ""
        table_entry = edit.table_entry((*path, key), pairs, indent, indent)
        edit.insert_entries(implicit.item.value, 0, [table_entry, edit.blank_line()])
        outer = _outermost_implicit(document, implicit)
        edit.insert_entries(outer.owner, outer.owner_index, [edit.comment_entry(comment, indent)])
        return
    if any(e.kind == "value" for e in entries):
        raise ValueError(f"{format_key(path)} is not a table")
    _append_table(document, (*path, key), pairs, comment)


def _append_table(
    document: TOMLDocument, header: KeyPath, pairs: Sequence[tuple[str, bool | str]], comment: str
) -> None:
    """A new `[header]` table at the end of the document, after a blank line."""
    body = document.body
    block = [edit.comment_entry(comment), edit.table_entry(header, pairs)]
    if body:
        block.insert(0, edit.blank_line())
    edit.insert_entries(document, len(body), block)
