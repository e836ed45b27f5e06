"""How a key whose value is a documented string *or* a closed table is written for TOML editors.

v2's `loss_mask = "sampled" | "all" | { assistant = true, ... }` is such a key. Pydantic writes it
as `oneOf: [string enum, table]`; the two TOML language servers (Taplo 0.8 inside Even Better TOML,
and Tombi 1.9) read that union in ways that cost users completion and hover text, and they read the
same keywords differently, so one shape cannot serve both. The emitted schema therefore gives each
server its own view, while the keywords that decide validity stay those of the model:

- **The checked key** (in `properties`) carries the rules every validator applies, in keywords that
  report precisely: `type`, then `enum` for a string (`if`/`then`), and `properties` plus
  `additionalProperties: false` for a table. Tombi's role completion reads these `properties`.
- **Tombi's view** sits under the key's `allOf`: one documented branch per string value (Tombi
  shows the description of the first branch a value matches, so hovering `"sampled"` shows what
  `"sampled"` does), plus branches that accept everything else, so this part never fails and only
  the precise errors above are reported. Tombi 1.9 ignores `if`/`then`, and reports a bad string
  from these branches instead ("must be one of [...]").
- **Taplo's view** sits in the parent's `items`, keyed by the key's name. Taplo's completion and
  hover look a key up there too (its lookup for arrays of tables does not check that the parent
  is an array), while validators apply `items` only to arrays, and Tombi ignores it on a table.
  Taplo reads the documented enum (completion, hover text per value) and the role names from it.
- Everything Taplo must not see carries `allOf: [true]`: Taplo's completion and hover skip a
  schema that has `allOf` (they read its branches instead). The checked key has an `allOf` too,
  so Taplo skips it and reads only its own view; a subschema under it that is not a union gets
  `anyOf: [true]` as well, because Taplo's completion recurses without end into a schema whose
  only combinator is `allOf`. Both are true for every value.

Measured through the real servers in `tests/lsp/`; what each server shows is in docs/editors.md.
"""

from __future__ import annotations

from typing import Any

_EVERY_VALUE: list[Any] = [True]


def _hidden_from_taplo(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, unchanged for validators, that Taplo's completion and hover do not read."""
    extra: dict[str, Any] = {"allOf": _EVERY_VALUE}
    if "anyOf" not in schema and "oneOf" not in schema:
        extra["anyOf"] = _EVERY_VALUE
    return {**schema, **extra}


def choice_or_table(node: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (documented string enum, table) branches of a pydantic union, or None."""
    if not isinstance(node, dict):
        return None
    branches = node.get("oneOf", node.get("anyOf"))
    if not isinstance(branches, list) or len(branches) != 2:
        return None
    choices = [b for b in branches if b.get("type") == "string" and "enumDescriptions" in b]
    tables = [b for b in branches if b.get("type") == "object" and "properties" in b]
    if len(choices) != 1 or len(tables) != 1:
        return None
    return choices[0], tables[0]


def checked_key(
    node: dict[str, Any], choice: dict[str, Any], table: dict[str, Any]
) -> dict[str, Any]:
    """What goes in `properties`: the rules, Tombi's view under `allOf`, no `default`.

    A `default` beside Tombi's branches makes Tombi offer the default value as a key inside the
    table, so it is left out; the description says which value is the default.
    """
    values = choice["enum"]
    documented = [
        _hidden_from_taplo({"type": "string", "const": value, "description": text})
        for value, text in zip(values, choice["enumDescriptions"], strict=True)
    ]
    # Branches every other value passes, so this view adds no error of its own. The first keeps
    # the table's own description for readers of the schema; both servers show the key's.
    everything_else = [
        _hidden_from_taplo({"type": "object", "description": table["description"]}),
        _hidden_from_taplo({"type": "object"}),
        _hidden_from_taplo({"type": "string"}),
    ]
    # Tombi lists the types of the branches it reads in its hover ("Value: String | Table"); a
    # branch for the other TOML types at the same level would list them all, one level up it
    # does not.
    tombi_view = _hidden_from_taplo(
        {
            "anyOf": [
                _hidden_from_taplo({"anyOf": [*documented, *everything_else]}),
                _hidden_from_taplo({"not": {"type": ["string", "object"]}}),
            ]
        }
    )
    rest = {k: v for k, v in node.items() if k not in {"oneOf", "anyOf", "default"}}
    return {
        **rest,
        "type": ["string", "object"],
        "properties": table["properties"],
        "additionalProperties": table.get("additionalProperties", True),
        "if": {"type": "string"},
        "then": {"enum": values},
        "allOf": [tombi_view],
    }


def taplo_view(
    node: dict[str, Any], choice: dict[str, Any], table: dict[str, Any]
) -> dict[str, Any]:
    """What goes in the parent's `items` under the key's name: only Taplo reads it.

    The string branch carries the key's description, so it is Taplo's hover on the key, and the
    per-value texts for completion and hover on a value; the table branch carries the role names
    for completion and no text of its own, so hovers show each text once.
    """
    return _hidden_from_taplo(
        {
            "anyOf": [
                {**choice, "description": node["description"]},
                {
                    "type": "object",
                    "properties": table["properties"],
                    "additionalProperties": table.get("additionalProperties", True),
                    "x-taplo": {"docs": {"main": ""}},
                },
            ]
        }
    )


def shape_for_editors(node: Any) -> Any:
    """Rewrite every documented-string-or-table key under `node` as described above."""
    if isinstance(node, list):
        return [shape_for_editors(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: shape_for_editors(value) for key, value in node.items()}
    properties = node.get("properties")
    if not isinstance(properties, dict):
        return node
    views: dict[str, Any] = {}
    for name, prop in properties.items():
        branches = choice_or_table(prop)
        if branches is not None:
            properties[name] = checked_key(prop, *branches)
            views[name] = taplo_view(prop, *branches)
    if views:
        if "items" in node or node.get("type") != "object":
            raise ValueError("Taplo's view needs a table schema without `items`")
        node["items"] = views
    return node
