"""Stacks of config files, composed the way prime-rl composes them at launch.

`uv run sft @ base.toml @ overlay.toml` deep-merges the files left to right: a later file's value
wins, tables merge key by key, so an overlay's unset keys keep the base's value. `--data @ d.toml`
nests a file's top-level keys under `[data]` first (a *fragment*). The first layer is the stack's
*root*; the others are *overlays*. A lone file is a stack of one.

This module holds what `validate` and `migrate` share: the layers, parsing them from command-line
words (prime-rl's own syntax), composing parsed layers, finding which layer set a key, and
validating the composed config with each problem placed where its key was set.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lossmask.errors import ConfigError, Problem, UnreadableFileError
from lossmask.schema.locate import find_line
from lossmask.toml_text import TablePath as KeyPath

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading

SFT_COMMAND = "sft"


@dataclass(frozen=True)
class Layer:
    """One file of a stack; `at` is where its top-level keys land (`("data",)` for `--data @`)."""

    path: str
    at: KeyPath = ()

    def describe(self) -> str:
        return f"--{'.'.join(self.at)} @ {self.path}" if self.at else f"@ {self.path}"


@dataclass(frozen=True)
class Stack:
    """The files one launch composes, in order, and the entrypoint that launches them.

    `command` is the word before the layers (`sft`, `rl`, ...), or None when unknown. Only an
    `sft` launch reads a missing `[data]` as the trainer's default SFT dataset, with its mask.
    `sources` says where the stack was found (`the command line`, `scripts/train.sh:3`).
    """

    layers: tuple[Layer, ...]
    command: str | None = SFT_COMMAND
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def root(self) -> Layer:
        return self.layers[0]

    @property
    def launches_sft(self) -> bool:
        return self.command == SFT_COMMAND

    def describe(self) -> str:
        words = [self.command or "?", *(layer.describe() for layer in self.layers)]
        return " ".join(words)


class StackSyntaxError(ValueError):
    """Command-line words that do not form a stack; the message says which word and why."""


def split_arguments(words: Sequence[str]) -> tuple[list[str], list[tuple[Layer, ...]]]:
    """Plain paths and stacks from command-line words, prime-rl style.

    `@ a.toml @ b.toml` (or `@a.toml`) is one stack; `--data @ d.toml` adds a fragment nested
    under `data`; any other word ends the stack being read and is a plain path.
    """
    paths: list[str] = []
    stacks: list[tuple[Layer, ...]] = []
    current: list[Layer] = []
    index = 0
    while index < len(words):
        word = words[index]
        at: KeyPath = ()
        if word.startswith("--") and index + 1 < len(words) and words[index + 1].startswith("@"):
            at = tuple(word[2:].split("."))
            if not all(at):
                raise StackSyntaxError(f"{word!r} is not a key path to nest a file under")
            index += 1
            word = words[index]
        if word.startswith("@"):
            name = word[1:]
            if not name:
                index += 1
                if index >= len(words):
                    raise StackSyntaxError("`@` must be followed by a file")
                name = words[index]
            current.append(Layer(name, at))
        else:
            if word.startswith("--"):
                raise StackSyntaxError(f"unknown option {word!r}")
            if current:
                stacks.append(tuple(current))
                current = []
            paths.append(word)
        index += 1
    if current:
        stacks.append(tuple(current))
    return paths, stacks


def nest(config: Mapping[str, Any], at: KeyPath) -> dict[str, Any]:
    nested: dict[str, Any] = dict(config)
    for part in reversed(at):
        nested = {part: nested}
    return nested


def merge_into(base: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    """Deep-merge `overlay` into `base`: tables merge, anything else is replaced (later wins)."""
    for key, value in overlay.items():
        existing = base.get(key)
        if isinstance(existing, dict) and isinstance(value, Mapping):
            merge_into(existing, value)
        else:
            base[key] = copy.deepcopy(value)


def compose(layers: Sequence[tuple[KeyPath, Mapping[str, Any]]]) -> dict[str, Any]:
    """The config a stack launches: its (nesting, parsed file) layers merged in order."""
    composed: dict[str, Any] = {}
    for at, config in layers:
        merge_into(composed, nest(config, at))
    return composed


def value_at(config: Mapping[str, Any], key: Sequence[str | int]) -> tuple[bool, Any]:
    node: Any = config
    for part in key:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return False, None
            node = node[part]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def setting_layer(
    layers: Sequence[tuple[KeyPath, Mapping[str, Any]]], key: Sequence[str | int]
) -> tuple[int, tuple[str | int, ...]] | None:
    """Which layer set `key` (or the closest enclosing key), and that key as written in it.

    The layer holding the deepest part of the key wins, the last one on a tie, as in the merge.
    None when no layer holds any part of it.
    """
    path = tuple(key)
    best: tuple[int, int, tuple[str | int, ...]] | None = None  # (depth, layer, relative key)
    for index, (at, config) in enumerate(layers):
        if path[: len(at)] == at:
            relative = path[len(at) :]
            length = next(
                (n for n in range(len(relative), 0, -1) if value_at(config, relative[:n])[0]), 0
            )
            if length == 0 and not at:
                continue
            depth, written = len(at) + length, relative[:length]
        elif at[: len(path)] == path:
            depth, written = len(path), ()
        else:
            continue
        if best is None or depth >= best[0]:
            best = (depth, index, written)
    return None if best is None else (best[1], best[2])


def locate(
    problem: Problem, layers: Sequence[Layer], parsed: Sequence[tuple[dict[str, Any], str]]
) -> Problem:
    """`problem` (keyed in the composed config) placed at the file and line that set its key."""
    nested = [(layer.at, config) for layer, (config, _) in zip(layers, parsed, strict=True)]
    where = setting_layer(nested, problem.key) if problem.key else None
    index, written = where if where is not None else (0, ())
    text = parsed[index][1]
    line = find_line(text, written) if written else None
    return Problem(
        problem.message,
        problem.key,
        file=layers[index].path,
        line=line,
        suggestion=problem.suggestion,
        severity=problem.severity,
    )


NO_DATA_WARNING = (
    'no [data] table in this stack: schema version 2 trains "sampled" tokens of the default '
    "dataset, where version 1 trained assistant messages only"
)


def validate_stack(
    stack: Stack, reading: Reading | int
) -> tuple[list[Problem], list[Problem], bool]:
    """Validate the config a stack launches as `reading` reads it (an int: lossmask's schema at
    that version): (errors, warnings and notes, a file was unreadable).

    Each problem names the layer and line that set the key it is about (the root when no layer
    wrote it, such as a required key that is missing).
    """
    # Deferred: the pydantic models cost a config command's cold start when no stack is given.
    from lossmask.readers.checks import no_data_statement
    from lossmask.readers.registry import lossmask_reading
    from lossmask.schema.validation import read_toml, validate_data

    if isinstance(reading, int):
        reading = lossmask_reading(reading)

    parsed: list[tuple[dict[str, Any], str]] = []
    errors: list[Problem] = []
    unreadable = False
    for layer in stack.layers:
        try:
            parsed.append(read_toml(layer.path))
        except UnreadableFileError as exc:
            errors.extend(exc.problems)
            unreadable = True
        except ConfigError as exc:
            errors.extend(exc.problems)
    if errors:
        return errors, [], unreadable
    composed = compose(
        [(layer.at, config) for layer, (config, _) in zip(stack.layers, parsed, strict=True)]
    )
    try:
        _, warnings = validate_data(composed, reading=reading)
    except ConfigError as exc:
        return [locate(p, stack.layers, parsed) for p in exc.problems], [], False
    located = [locate(p, stack.layers, parsed) for p in warnings]
    statement = no_data_statement(reading)
    if statement is not None and stack.launches_sft and "data" not in composed:
        located.append(dataclasses.replace(statement, file=stack.root.path))
    return errors, located, False
