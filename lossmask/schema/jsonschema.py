"""JSON Schema for editors, generated from the pydantic models of each schema version.

Pydantic's raw output is valid JSON Schema but reads badly in editors, so it is reshaped here:
- every `$ref` is inlined, because Taplo / Even Better TOML drops a description placed beside a
  `$ref` (draft-07 ignores siblings of `$ref`), which would leave hover text empty;
- `null` branches are dropped: TOML has no null, an optional key is simply left out;
- enum values get per-value documentation (`enumDescriptions` for VS Code, `x-taplo` for Taplo);
- per-property titles are dropped ("Max Steps" adds nothing to the key `max_steps`);
- a key whose value is a documented string or a table (v2's `loss_mask`) is rewritten so both TOML
  language servers complete and document it (`jsonschema_editors.py`), measured through their LSP
  in `tests/lsp/`.

The output is checked into `schemas/` (for editors) and `lossmask/schema/json_schemas/` (shipped in
the package for the fast path of `lossmask validate`, `quick_check.py`); a test fails when either
goes stale. Regenerate both with `python -m lossmask.schema.jsonschema`.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from lossmask.schema.jsonschema_editors import shape_for_editors
from lossmask.schema.quick_check import PACKAGED_SCHEMAS
from lossmask.schema.roles import MODE_DESCRIPTIONS
from lossmask.schema.validation import MODELS, model_for

DRAFT = "http://json-schema.org/draft-07/schema#"
SCHEMA_DIR = Path("schemas")


def schema_filename(version: int) -> str:
    return f"lossmask-v{version}.schema.json"


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        target = _inline_refs(copy.deepcopy(defs[name]), defs)
        siblings = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    return {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}


def _drop_nulls(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_nulls(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _drop_nulls(value) for key, value in node.items()}
    for combinator in ("anyOf", "oneOf"):
        if combinator not in node:
            continue
        branches = [b for b in node[combinator] if b != {"type": "null"}]
        if len(branches) == 1:
            del node[combinator]
            node = {**branches[0], **node}
        else:
            node[combinator] = branches
    if node.get("default", 0) is None:
        del node["default"]
    return node


def _document_enums(node: Any, *, keep_title: bool = False) -> Any:
    if isinstance(node, list):
        return [_document_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _document_enums(value) for key, value in node.items()}
    if not keep_title and isinstance(out.get("title"), str):
        del out["title"]
    if out.get("enum") == list(MODE_DESCRIPTIONS):
        out["enumDescriptions"] = list(MODE_DESCRIPTIONS.values())
    if "enumDescriptions" in out:
        out["markdownEnumDescriptions"] = out["enumDescriptions"]
        out["x-taplo"] = {"docs": {"enumValues": out["enumDescriptions"]}}
    return out


def generate_schema(version: int) -> dict[str, Any]:
    """The editor-ready JSON Schema of one schema version."""
    raw = model_for(version).model_json_schema(mode="validation")
    defs = raw.get("$defs", {})
    body = _document_enums(_drop_nulls(_inline_refs(raw, defs)), keep_title=True)
    body = shape_for_editors(body)
    return {
        "$schema": DRAFT,
        "$id": f"urn:lossmask:schema:v{version}",
        "title": f"lossmask SFT config, schema version {version}",
        **{key: value for key, value in body.items() if key != "title"},
    }


def render_schema(version: int) -> str:
    """The schema as the exact text that is checked in (stable key order, trailing newline)."""
    return json.dumps(generate_schema(version), indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    written = []
    for target in (directory, PACKAGED_SCHEMAS):
        target.mkdir(parents=True, exist_ok=True)
        for version in MODELS:
            path = target / schema_filename(version)
            path.write_text(render_schema(version), encoding="utf-8", newline="\n")
            written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR
    for written_path in write_all(target):
        print(f"wrote {written_path}")
