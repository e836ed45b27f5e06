"""Small, checked edits on a tomlkit document: find where a key path is written, insert lines there.

tomlkit keeps every comment, blank line and quoting choice, but its public API can only append, and
appending to a table puts the new lines after the table's sub-tables (or, in known bugs, under the
wrong header: tomlkit issues #145, #588). Migration needs to insert lines at a chosen place: right
after a table's own keys, right after a dotted-key line. So this module walks the document body
itself and splices parsed items into a container's body at an index.

It touches tomlkit's `Container._body` / `_map`, which are private. That is a deliberate trade:
every migrated file is re-parsed with `tomllib` and compared before anything is written (see
`lossmask.migrate.safety`), so if a tomlkit release changes these internals the result is a
reported error, never a silently wrong file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, InlineTable, Item, Key, SingleKey, Table, Trivia, Whitespace

from lossmask.errors import format_key
from lossmask.toml_text import TablePath as KeyPath

EntryKind = Literal["header", "super", "dotted", "inline", "value"]
Body = list[tuple[Key | None, Item]]


@dataclass(frozen=True)
class Entry:
    """One place where a key path is written.

    `container`/`index` locate the line (or header) in the file: for a key inside a dotted chain
    (`data.loss_mask.tool = true`) or inside an inline table, that is the enclosing top-level line.
    `owner`/`owner_index` locate the item itself in its direct parent, for replacing it.
    `relative` is the dotted key as written on that line, relative to its table.
    """

    path: KeyPath
    kind: EntryKind
    item: Item
    container: Container
    index: int
    owner: Container
    owner_index: int
    relative: KeyPath


def walk(document: Container) -> Iterator[Entry]:
    """Every keyed entry of the document, depth first, in file order."""
    yield from _walk(document, (), None, ())


def _walk(
    container: Container,
    base: KeyPath,
    anchor: tuple[Container, int] | None,
    relative: KeyPath,
) -> Iterator[Entry]:
    for index, (key, item) in enumerate(container.body):
        if key is None:
            continue
        path = (*base, key.key)
        line_container, line_index = anchor if anchor is not None else (container, index)
        rel = (*relative, key.key) if anchor is not None else (key.key,)
        in_line = anchor is not None or key.is_dotted()
        if isinstance(item, InlineTable):
            yield Entry(path, "inline", item, line_container, line_index, container, index, rel)
            yield from _walk(item.value, path, (line_container, line_index), rel)
        elif isinstance(item, Table):
            kind: EntryKind = (
                "dotted" if in_line else "super" if item.is_super_table() else "header"
            )
            yield Entry(path, kind, item, line_container, line_index, container, index, rel)
            if in_line:
                yield from _walk(item.value, path, (line_container, line_index), rel)
            else:
                yield from _walk(item.value, path, None, ())
        elif isinstance(item, AoT):
            # Arrays of tables never hold a data section's loss mask; their insides are not
            # walked, so nothing below is ever edited.
            yield Entry(path, "value", item, line_container, line_index, container, index, rel)
        else:
            yield Entry(path, "value", item, line_container, line_index, container, index, rel)


def entries_at(document: Container, path: Sequence[str]) -> list[Entry]:
    target = tuple(path)
    return [entry for entry in walk(document) if entry.path == target]


def own_keys_end(table: Table) -> int:
    """Index in `table`'s body where lines that belong to the table's own keys end.

    That is after the last key line, and after any comments separated from what follows by a blank
    line. Comments directly above the next header (no blank line between) belong to that header
    and stay with it; so do sub-tables. Inserting here keeps the new lines inside the table's own
    key block, before its sub-tables.
    """
    body: Body = table.value.body
    first_header = len(body)
    for index, (key, item) in enumerate(body):
        if key is not None and isinstance(item, Table | AoT) and not key.is_dotted():
            first_header = index
            break
    last_key = -1
    for index in range(first_header):
        if body[index][0] is not None:
            last_key = index
    # Between the last key and the first sub-table only comments and blank lines remain. Split
    # them at the last blank line: above it they are the table's own (a commented-out key, a note);
    # below it they sit directly above the next header and belong to it. With no blank line at
    # all, every comment there belongs to the next header.
    insert_at = last_key + 1
    for index in range(last_key + 1, first_header):
        if isinstance(body[index][1], Whitespace):
            insert_at = index
    return insert_at


def insert_entries(
    container: Container, index: int, entries: Sequence[tuple[Key | None, Item]]
) -> None:
    """Insert body entries at `index`, keeping tomlkit's key -> body-index map consistent."""
    body: Body = container._body
    count = len(entries)
    if index > 0:
        # The last line of a file may lack its newline; the new lines must start on a line of
        # their own (the caller restores a missing final newline at the very end).
        line = _last_line_item(*body[index - 1])
        if line is not None and "\n" not in line.trivia.trail:
            line.trivia.trail += "\n"
    # Typed loosely: tomlkit's own annotation of the map's keys changed between releases.
    mapping: dict[Any, int | tuple[int, ...]] = container._map
    for mapped, position in list(mapping.items()):
        if isinstance(position, tuple):
            mapping[mapped] = tuple(p + count if p >= index else p for p in position)
        elif position >= index:
            mapping[mapped] = position + count
    for offset, (key, item) in enumerate(entries):
        body.insert(index + offset, (key, item))
        if key is None:
            continue
        if key in mapping:
            existing = mapping[key]
            positions = existing if isinstance(existing, tuple) else (existing,)
            mapping[key] = (*positions, index + offset)
        else:
            mapping[key] = index + offset
            dict.__setitem__(container, key.key, item.value)


def _last_line_item(key: Key | None, item: Item) -> Item | None:
    """The item that ends the last line of a body entry (a dotted key's innermost value)."""
    while isinstance(item, Table) and key is not None and key.is_dotted():
        children = [(k, v) for k, v in item.value.body if k is not None]
        if not children:
            return None
        key, item = children[-1]
    if isinstance(item, Whitespace | Table | AoT):
        return None
    return item


def replace_item(entry: Entry, new_item: Item) -> None:
    """Replace the item of `entry` in its direct parent, keeping its key and surroundings."""
    key, old = entry.owner.body[entry.owner_index]
    new_item.trivia.indent = old.trivia.indent
    new_item.trivia.comment_ws = old.trivia.comment_ws
    new_item.trivia.comment = old.trivia.comment
    new_item.trivia.trail = old.trivia.trail
    entry.owner._body[entry.owner_index] = (key, new_item)
    if key is not None:
        dict.__setitem__(entry.owner, key.key, new_item.value)


def parse_value(text: str) -> Item:
    """A single TOML value (e.g. an inline table) as a tomlkit item."""
    _, item = tomlkit.parse(f"x = {text}\n").body[0]
    return item


# The constructors below build items directly instead of parsing snippets: parsing even a tiny
# snippet costs as much as a few hundred lines of the file being migrated.


def comment_entry(text: str, indent: str = "") -> tuple[None, Comment]:
    """A whole-line comment; `text` includes its `#`."""
    return None, Comment(Trivia(indent=indent, comment_ws="", comment=text, trail="\n"))


def blank_line() -> tuple[None, Whitespace]:
    return None, tomlkit.ws("\n")


def _value(value: bool | str, indent: str = "") -> Item:
    item = tomlkit.item(value)
    item.trivia.indent = indent
    return item


def key_value(key: str, value: bool | str, indent: str = "") -> tuple[Key, Item]:
    return SingleKey(key), _value(value, indent)


def dotted_line(
    relative: Sequence[str], value: bool | str, indent: str = ""
) -> tuple[Key | None, Item]:
    """One `a.b.c = value` line as a body entry, for a container whose keys are relative to it."""
    holder = Container()
    holder.append(tomlkit.key(list(relative)), _value(value, indent))
    (entry,) = holder.body
    return entry


def table_entry(
    header: Sequence[str],
    pairs: Sequence[tuple[str, bool | str]],
    header_indent: str = "",
    key_indent: str = "",
) -> tuple[Key, Table]:
    """A `[header]` table holding `key = value` lines, as the entry its parent holds.

    The full header is the table's display name, so it renders verbatim wherever it is inserted.
    """
    # A container marked as parsed skips the re-ordering and re-indenting tomlkit does for
    # appends after tables: there are none here, and building the table costs about a third less.
    table = Table(
        Container(parsed=True),
        Trivia(indent=header_indent),
        False,
        is_super_table=False,
        name=header[-1],
        display_name=format_key(header),
    )
    for key, value in pairs:
        table.raw_append(SingleKey(key), _value(value, key_indent))
    return SingleKey(header[-1]), table


def last_indent(container: Container, before: int) -> str:
    """The indentation of the last key line above `before`, so inserted lines line up with it."""
    for key, item in reversed(container.body[:before]):
        if key is not None and not isinstance(item, Table | AoT):
            return item.trivia.indent
    return ""
