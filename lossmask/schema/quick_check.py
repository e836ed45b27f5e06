"""The fast path of `lossmask validate`: settle the common case without building pydantic models.

Building the models costs more than the rest of a `lossmask validate one.toml` run. Most files
are valid, and for a valid file with no unknown keys the full check's only output is the meaning
warnings, a plain function of the parsed TOML (`meaning.py`). So this module answers one
question conservatively: is the file *certainly* valid, with every key one the schema knows? It
checks the parsed TOML against the packaged JSON Schema (generated from the same models and kept
fresh by a test) with strict Python types, as the models' strict mode does. Anything it is not
sure about (unreadable or malformed TOML, any failed rule, an unknown key, a non-finite float)
returns None, and the caller runs the full check, which words every error. The one rule a JSON
Schema cannot say, `micro_batch_size` divides `batch_size`, is checked here too, and a file
breaking it takes the full path as well. A test compares the two on every example, every corpus
config, and a value of each TOML type at every key of the schema.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lossmask.errors import Problem
from lossmask.paths import UnreadablePath, read_regular_file
from lossmask.schema.meaning import meaning_warnings, with_lines
from lossmask.schema.sections import DATA_SECTIONS, table_at

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading

PACKAGED_SCHEMAS = Path(__file__).with_name("json_schemas")

# Keywords that only document; everything else must be understood or the answer is "not sure".
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "title",
        "description",
        "default",
        "enumDescriptions",
        "markdownEnumDescriptions",
        "x-taplo",
    }
)
_CHECKED = frozenset(
    {
        "type",
        "enum",
        "const",
        "not",
        "anyOf",
        "allOf",
        "if",
        "then",
        "else",
        "minimum",
        "exclusiveMinimum",
        "maximum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "items",
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
    }
)


class _Unsure(Exception):
    """The schema uses something this checker does not evaluate."""


@cache
def packaged_schema(version: int) -> dict[str, Any]:
    path = PACKAGED_SCHEMAS / f"lossmask-v{version}.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _is_type(value: Any, name: str) -> bool:
    # The models are strict: no bool for a number, no float for an integer.
    kind = type(value)
    if name == "number":
        return kind is int or (kind is float and math.isfinite(value))
    return kind is {
        "string": str,
        "integer": int,
        "boolean": bool,
        "object": dict,
        "array": list,
    }.get(name, type(None))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _holds(value: Any, schema: Any) -> bool:
    """Whether `value` certainly satisfies `schema`; False covers "fails" and "unknown key"."""
    if schema is True:
        return True
    if not isinstance(schema, dict) or not set(schema) <= _ANNOTATIONS | _CHECKED:
        raise _Unsure
    if type(value) is float and not math.isfinite(value):
        return False
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, name) for name in names):
            return False
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        return False
    if "const" in schema and not _same(value, schema["const"]):
        return False
    if "not" in schema and _holds(value, schema["not"]):
        return False
    if "anyOf" in schema and not any(_holds(value, branch) for branch in schema["anyOf"]):
        return False
    if "allOf" in schema and not all(_holds(value, branch) for branch in schema["allOf"]):
        return False
    if "if" in schema:
        branch = schema.get("then") if _holds(value, schema["if"]) else schema.get("else")
        if branch is not None and not _holds(value, branch):
            return False
    if _is_type(value, "number") and not _in_bounds(value, schema):
        return False
    if type(value) is list and not _array_holds(value, schema):
        return False
    return type(value) is not dict or _table_holds(value, schema)


def _in_bounds(value: float, schema: dict[str, Any]) -> bool:
    return not (
        ("minimum" in schema and value < schema["minimum"])
        or ("exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"])
        or ("maximum" in schema and value > schema["maximum"])
        or ("exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"])
    )


def _array_holds(value: list[Any], schema: dict[str, Any]) -> bool:
    if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
        return False
    items = schema.get("items")
    return items is None or all(_holds(item, items) for item in value)


def _table_holds(value: dict[str, Any], schema: dict[str, Any]) -> bool:
    if not all(key in value for key in schema.get("required", [])):
        return False
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for key, item in value.items():
        matched = [properties[key]] if key in properties else []
        matched += [sub for pattern, sub in patterns.items() if re.search(pattern, key)]
        if matched:
            if not all(_holds(item, sub) for sub in matched):
                return False
            continue
        # A key the table does not name: in a modelled table (one with `properties`) the full
        # check warns about it, so this path steps aside; a pass-through table takes anything.
        if "properties" in schema or schema.get("additionalProperties", True) is not True:
            return False
    return True


def _micro_batches_divide(data: dict[str, Any], schema: dict[str, Any]) -> bool:
    for section in DATA_SECTIONS:
        node = table_at(data, section)
        if not isinstance(node, dict) or "micro_batch_size" not in node:
            continue
        fields = schema
        for part in section:
            fields = fields["properties"][part]
        batch_size = node.get("batch_size", fields["properties"]["batch_size"]["default"])
        if batch_size % node["micro_batch_size"] != 0:
            return False
    return True


def quick_check(
    path: str | Path, version: int, reading: Reading | None = None
) -> list[Problem] | None:
    """The warnings of a config that is certainly valid, or None: then run the full check.

    `reading` (default: lossmask's schema at `version`) adds what its trainer refuses; a config
    it refuses takes the full check, which words every error."""
    try:
        # Only a regular file is read (a FIFO would block); anything odd goes to the full check,
        # which words the problem.
        text = read_regular_file(str(path)).decode("utf-8")
        data = tomllib.loads(text)
    except (UnreadablePath, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    return quick_check_parsed(data, text, path, version, reading)


def quick_check_parsed(
    data: dict[str, Any],
    text: str,
    path: str | Path,
    version: int,
    reading: Reading | None = None,
) -> list[Problem] | None:
    """`quick_check` of a file already read and parsed (`validate` reads each file once)."""
    from lossmask.readers.checks import reading_errors
    from lossmask.readers.registry import lossmask_reading

    reading = reading or lossmask_reading(version)
    version = reading.version
    try:
        schema = packaged_schema(version)
        if not _holds(data, schema) or not _micro_batches_divide(data, schema):
            return None
    except (_Unsure, OSError, KeyError, RecursionError):
        return None
    if reading_errors(data, reading):
        return None
    return with_lines(meaning_warnings(data, version, reading), str(path), text)
