"""Pydantic's validation errors, reworded in TOML words for people editing a config file."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lossmask.errors import Problem
from lossmask.schema.roles import ROLES
from lossmask.schema.versions import MODES, NUMBERS, version_info

# The first version that accepts a `loss_mask` string: where to point a user who wrote one.
_FIRST_WITH_MODES = next(n for n in NUMBERS if version_info(n).modes)


def toml_value(value: Any) -> str:
    """Show a parsed value as it would be written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return "a date or time"


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """A suggestion for a mistyped `word`; case alone (`"SFT"` for `"sft"`) counts as a typo."""
    by_case = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(word.casefold(), list(by_case), n=1, cutoff=0.6)
    return f'did you mean "{by_case[close[0]]}"?' if close else None


_ALTERNATIVE = re.compile(r"must be (?P<expected>.+), not (?P<value>.+)", re.DOTALL)


def merge_alternatives(problems: Sequence[Problem]) -> list[Problem]:
    """One problem per key where pydantic reports one per member of a union.

    `compile = 3` fails `bool | str | table` three times; the user needs one message that lists
    what the key may be ("must be true or false, a string, or a table, not 3"), not three that
    each contradict the others.
    """
    groups: list[tuple[Problem, list[str]]] = []
    for problem in problems:
        match = _ALTERNATIVE.fullmatch(problem.message)
        if match is not None and groups:
            first, options = groups[-1]
            earlier = _ALTERNATIVE.fullmatch(first.message)
            if earlier and first.key == problem.key and earlier["value"] == match["value"]:
                options.append(match["expected"])
                continue
        groups.append((problem, [match["expected"]] if match else []))
    merged = []
    for first, options in groups:
        if len(options) > 1:
            value = _ALTERNATIVE.fullmatch(first.message)["value"]  # type: ignore[index]
            expected = ", ".join(options[:-1]) + ", or " + options[-1]
            first = Problem(
                f"must be {expected}, not {value}", first.key, suggestion=first.suggestion
            )
        merged.append(first)
    return merged


def data_path(data: Any, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """Keep the parts of a pydantic location that are real keys of the input.

    Pydantic adds union-member tags (`"mode"`, `"roles"`, `"bool"`, ...) to locations; they are not
    keys the user wrote, so they are dropped by walking the parsed TOML alongside.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        in_table = isinstance(node, Mapping) and part in node
        in_array = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_table or in_array:
            path.append(part)
            node = node[part]
        elif not isinstance(node, Mapping | list):
            continue  # a tag inside a scalar's union
        elif isinstance(node, Mapping) and not isinstance(part, int) and not _is_tag(part):
            path.append(part)  # a missing key: still the user's word
            node = None
    return tuple(path)


def _is_tag(part: str) -> bool:
    return (
        part in {"mode", "roles"} or "[" in part or part in {"bool", "str", "int", "float", "list"}
    )


def _is_loss_mask(path: Sequence[str | int]) -> bool:
    return "loss_mask" in path


_TYPE_WORDS = {
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
}


def reword(error: Mapping[str, Any], data: Any, version: int) -> Problem:
    """One pydantic error as a Problem with a TOML key path, message and suggestion."""
    kind: str = error["type"]
    path = data_path(data, error["loc"])
    value = error.get("input")
    ctx = error.get("ctx") or {}

    if _is_loss_mask(path) and path[-1] == "loss_mask":
        if not version_info(version).modes:
            if isinstance(value, str) and value in MODES:
                return Problem(
                    f"must be a table of roles in schema version {version}, not "
                    f"{toml_value(value)}",
                    path,
                    suggestion=(
                        f"{toml_value(value)} is a version {_FIRST_WITH_MODES} setting; use "
                        f"--schema-version {_FIRST_WITH_MODES}"
                    ),
                )
            return Problem(f"must be a table of roles, not {toml_type(value)}", path)
        message = f'must be "sampled", "all" or a table of roles, not {toml_value(value)}'
        suggestion = did_you_mean(value, MODES) if isinstance(value, str) else None
        return Problem(message, path, suggestion=suggestion)
    if _is_loss_mask(path) and kind == "extra_forbidden":
        role = str(path[-1])
        hint = "valid roles are " + ", ".join(ROLES)
        close = did_you_mean(role, ROLES)
        return Problem(
            f'unknown role "{role}"', path, suggestion=f"{hint}; {close}" if close else hint
        )
    if kind in _TYPE_WORDS:
        return Problem(f"must be {_TYPE_WORDS[kind]}, not {toml_value(value)}", path)
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        suggestion = None
        if "content_roles" in path and value == "assistant":
            suggestion = 'assistant messages follow loss_mask ("sampled" trains what they sample)'
            return Problem(f"must be {expected}, not {toml_value(value)}", path, suggestion)
        if isinstance(value, str):
            options = [part.strip().strip('"') for part in expected.replace(" or ", ",").split(",")]
            suggestion = did_you_mean(value, [o for o in options if o])
        return Problem(f"must be {expected}, not {toml_value(value)}", path, suggestion=suggestion)
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        bound = next(iter(ctx.values()), "")
        return Problem(f"must be {words} {bound}, not {toml_value(value)}", path)
    count = len(value) if isinstance(value, list) else 0
    if kind == "too_short":
        return Problem(f"must have at least {ctx.get('min_length')} items, not {count}", path)
    if kind == "too_long":
        return Problem(f"must have at most {ctx.get('max_length')} items, not {count}", path)
    message = str(error.get("msg", kind))
    return Problem(message[0].lower() + message[1:], path)
