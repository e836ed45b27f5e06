"""Which tables of a config are SFT data sections, the only places a loss mask applies.

One definition, shared by `validate` (which warns when v2 changes a section's meaning) and
`migrate` (which makes that meaning explicit), so the two can never disagree about a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SectionPath = tuple[str, ...]

DATA_SECTIONS: tuple[SectionPath, ...] = (("data",), ("val", "data"))


def table_at(config: Mapping[str, Any], path: SectionPath) -> Any:
    """The value at `path` in parsed TOML, or None when any part is missing or not a table."""
    node: Any = config
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def sft_sections(config: Mapping[str, Any]) -> list[tuple[SectionPath, Mapping[str, Any]]]:
    """The SFT data sections of parsed TOML, as (key path, table).

    A section is `[data]` or `[val.data]` whose `type` is `"sft"` or absent. A data table with no
    `type` holding a `fake` table is the RL trainer's fake-data loader (prime-rl's
    `configs/debug/fake/rl.toml`), not an SFT dataset; one that says `type = "sft"` is SFT data
    whatever else it holds, as `load_config` reads it (its `fake` is an unknown key).
    """
    found = []
    for path in DATA_SECTIONS:
        node = table_at(config, path)
        if not isinstance(node, Mapping) or ("fake" in node and "type" not in node):
            continue
        if node.get("type", "sft") == "sft":
            found.append((path, node))
    return found
