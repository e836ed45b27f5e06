"""Columns read as `datasets` decodes them: values a feature stores encoded are decoded here.

lossmask streams a dataset's Arrow files batch by batch (`parts.DatasetPart`), which gives each
value as Arrow stores it, not as `datasets` hands it to users. For most features that is the same
thing; for `Json` it is not. `datasets` 5.x stores a list of dicts that differ in keys (a
prompt/completion row whose completion holds an assistant message with `tool_calls` and a tool
message with `tool_call_id`) as `List(Json())`: each message is a JSON *string* in Arrow, decoded
only by `Features.decode_example`. Read raw, every message would be a bare string, which the row
shapes read as an assistant message whose content is that string: 0 tool-call turns and thousands of
wrongly trained tokens, silently. So every `Json` value inside a conversation column is decoded
here, and a value that does not decode is a row error naming its place in the row.

Only `Json` is decoded (whatever its `decode` flag says: the value is JSON text either way).
Image, audio and other media features are left as stored: a conversation holds none, and decoding
them would open files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lossmask.data.errors import RowFieldError

# The columns `normalize.normalize_row` reads; nothing else of a row is decoded.
CONVERSATION_FIELDS = (
    "messages",
    "prompt",
    "completion",
    "conversations",
    "system",
    "tools",
    "tool_defs",
)


def _is_json(feature: Any) -> bool:
    return type(feature).__name__ == "Json"


def holds_json(feature: Any) -> bool:
    """Whether `feature` has a `Json` anywhere inside it."""
    if _is_json(feature):
        return True
    if isinstance(feature, Mapping):
        return any(holds_json(sub) for sub in feature.values())
    if isinstance(feature, list | tuple):
        return bool(feature) and holds_json(feature[0])
    inner = getattr(feature, "feature", None)  # List, LargeList (and Sequence, which is a List)
    return inner is not None and holds_json(inner)


def json_columns(features: Mapping[str, Any] | None) -> dict[str, Any]:
    """The conversation columns of `features` that hold `Json` values, with their features."""
    if not features:
        return {}
    return {
        name: feature
        for name, feature in features.items()
        if name in CONVERSATION_FIELDS and holds_json(feature)
    }


def decode_json(feature: Any, value: Any, key: str) -> Any:
    """`value` with every `Json` inside it decoded; `RowFieldError` naming `key[i].field` when one
    is not valid JSON."""
    if value is None:
        return None
    if _is_json(feature):
        if not isinstance(value, str | bytes):
            return value  # already a Python value (a dataset built in memory, not yet written)
        try:
            return json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
            raise RowFieldError(
                key,
                f"is stored as JSON text (a datasets Json feature) that does not decode ({reason})",
                "re-export the dataset with the installed datasets, or fix this value",
            ) from None
    if isinstance(feature, Mapping):
        if not isinstance(value, dict):
            return value
        return {
            name: decode_json(feature[name], item, f"{key}.{name}")
            if name in feature and holds_json(feature[name])
            else item
            for name, item in value.items()
        }
    inner = feature[0] if isinstance(feature, list | tuple) else getattr(feature, "feature", None)
    if inner is None or not isinstance(value, list):
        return value
    return [decode_json(inner, item, f"{key}[{index}]") for index, item in enumerate(value)]


def decode_row(row: dict[str, Any], columns: Mapping[str, Any]) -> dict[str, Any]:
    """`row` with its `Json` conversation columns decoded (`columns` from `json_columns`)."""
    for name, feature in columns.items():
        if name in row:
            row[name] = decode_json(feature, row[name], name)
    return row
