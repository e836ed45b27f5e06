"""Generated legacy configs: migration keeps meaning, is idempotent and keeps every comment.

The expected meaning is computed here from the v1/v2 rules, independently of the migrator's own
equivalence check, and comments are found by their generated labels, not by the migrator's scanner.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossmask.migrate.engine import migrate_text

ROLES = ("system", "user", "assistant", "tool")
LEGACY = {"system": False, "user": False, "assistant": True, "tool": False}
DATA_KEYS = {"name": '"org/set"', "seq_len": "1024", "batch_size": "8", "shuffle": "true"}
OTHER_TABLES = {
    "model": {"name": '"m"', "impl": '"custom"'},
    "optim": {"lr": "1e-5", "weight_decay": "0.0"},
    "ckpt": {"interval": "100"},
}
COMMENT = re.compile(r"# note-\d+")


class Writer:
    """Hands out uniquely labelled comments, so the test can find each one in the output."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.count = 0

    def comment(self) -> str:
        self.count += 1
        return f"# note-{self.count}"

    def maybe_beside(self, line: str) -> str:
        return f"{line}  {self.comment()}" if self.draw(st.booleans()) else line

    def maybe_above(self, lines: list[str]) -> list[str]:
        return [self.comment(), *lines] if self.draw(st.booleans()) else lines


def _bool(value: bool) -> str:
    return "true" if value else "false"


@st.composite
def roles(draw: st.DrawFn) -> dict[str, bool]:
    chosen = draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=4))
    return {role: draw(st.booleans()) for role in chosen}


def _inline(mask: dict[str, bool], spaced: bool) -> str:
    inner = ", ".join(f"{role} = {_bool(flag)}" for role, flag in mask.items())
    return ("{ " + inner + " }") if spaced and inner else "{" + inner + "}"


@st.composite
def section(draw: st.DrawFn, path: str, writer: Writer, at_root_allowed: bool) -> dict[str, Any]:
    """One SFT data section: where it is written, its keys, and its loss mask (or none)."""
    styles = ["header", "implicit"] + (["dotted", "inline"] if at_root_allowed else [])
    style = draw(st.sampled_from(styles))
    keys = draw(st.lists(st.sampled_from(sorted(DATA_KEYS)), unique=True, max_size=3))
    data_type = draw(st.sampled_from([None, None, "sft", "fake"]))
    mask_styles = {
        "header": ["none", "table", "late-table", "inline", "dotted", "string"],
        "implicit": ["none", "late-table"],
        "dotted": ["none", "inline", "dotted", "string"],
        "inline": ["none", "inline", "string"],
    }[style]
    mask_style = draw(st.sampled_from(mask_styles))
    mask: Any = None
    if mask_style == "string":
        mask = draw(st.sampled_from(["sampled", "all"]))
    elif mask_style != "none":
        mask = draw(roles())
    return {
        "path": path,
        "style": style,
        "keys": keys if style != "implicit" else [],
        "type": data_type if style != "implicit" else None,
        "mask_style": mask_style,
        "mask": mask,
        "spaced": draw(st.booleans()),
    }


def _key_lines(sec: dict[str, Any], prefix: str, writer: Writer) -> list[str]:
    lines = [writer.maybe_beside(f"{prefix}{key} = {DATA_KEYS[key]}") for key in sec["keys"]]
    if sec["type"] is not None:
        lines.insert(0, f'{prefix}type = "{sec["type"]}"')
    mask, style = sec["mask"], sec["mask_style"]
    if style == "string":
        lines.append(f'{prefix}loss_mask = "{mask}"')
    elif style == "inline":
        lines.append(writer.maybe_beside(f"{prefix}loss_mask = {_inline(mask, sec['spaced'])}"))
    elif style == "dotted":
        lines.extend(f"{prefix}loss_mask.{r} = {_bool(f)}" for r, f in mask.items())
    return lines


@st.composite
def configs(draw: st.DrawFn) -> tuple[str, list[str]]:
    writer = Writer(draw)
    sections = [draw(section("data", writer, at_root_allowed=True))]
    if draw(st.booleans()):
        sections.append(draw(section("val.data", writer, at_root_allowed=False)))
    root: list[str] = writer.maybe_above(["max_steps = 10"]) if draw(st.booleans()) else []
    blocks: list[list[str]] = []
    late: list[list[str]] = []
    for sec in sections:
        roles_written = sec["mask"] if isinstance(sec["mask"], dict) else {}
        mask_lines = [f"{role} = {_bool(flag)}" for role, flag in roles_written.items()]
        mask_table = writer.maybe_above(
            [writer.maybe_beside(f"[{sec['path']}.loss_mask]"), *mask_lines]
        )
        if sec["style"] == "dotted":
            root.extend(_key_lines(sec, "data.", writer))
        elif sec["style"] == "inline":
            pairs = [f"{k} = {DATA_KEYS[k]}" for k in sec["keys"]]
            if sec["mask_style"] == "inline":
                pairs.append(f"loss_mask = {_inline(sec['mask'], sec['spaced'])}")
            elif sec["mask_style"] == "string":
                pairs.append(f'loss_mask = "{sec["mask"]}"')
            root.append(writer.maybe_beside(f"data = {_inline_text(pairs, sec['spaced'])}"))
        elif sec["style"] == "header":
            body = [f"[{sec['path']}]", *_key_lines(sec, "", writer)]
            if draw(st.booleans()):
                body.insert(len(body) - draw(st.integers(0, len(body) - 1)), writer.comment())
            blocks.append(writer.maybe_above(body))
            if sec["mask_style"] == "table":
                blocks.append(mask_table)
        else:  # implicit: only a sub-table defines the section
            blocks.append(writer.maybe_above([f"[{sec['path']}.extra]", "flag = true"]))
        if sec["mask_style"] == "late-table":
            late.append(mask_table)
    for name in draw(st.lists(st.sampled_from(sorted(OTHER_TABLES)), unique=True)):
        lines = [writer.maybe_beside(f"{k} = {v}") for k, v in OTHER_TABLES[name].items()]
        blocks.insert(draw(st.integers(0, len(blocks))), writer.maybe_above([f"[{name}]", *lines]))
    blank = draw(st.sampled_from(["", "\n"]))
    parts = ["\n".join(root)] if root else []
    parts += ["\n".join(block) for block in blocks + late]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = ("\n" + blank).join(parts) + ("\n" if draw(st.booleans()) else "")
    return text.replace("\n", newline), COMMENT.findall(text)


def _inline_text(pairs: list[str], spaced: bool) -> str:
    inner = ", ".join(pairs)
    return ("{ " + inner + " }") if spaced and inner else "{" + inner + "}"


def _sft_sections(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for path in ("data", "val.data"):
        node: Any = config
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get("type", "sft") == "sft":
            found[path] = node
    return found


def _v1(section: dict[str, Any]) -> Any:
    value = section.get("loss_mask")
    return {**LEGACY, **value} if isinstance(value, dict) else value or dict(LEGACY)


def _v2(section: dict[str, Any]) -> Any:
    value = section.get("loss_mask", "sampled")
    return {**LEGACY, **value} if isinstance(value, dict) else value


def _strip_masks(config: dict[str, Any]) -> dict[str, Any]:
    for section in _sft_sections(config).values():
        section.pop("loss_mask", None)
    return config


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_migration_keeps_meaning_comments_and_is_idempotent(
    generated: tuple[str, list[str]],
) -> None:
    text, labels = generated
    old = tomllib.loads(text)  # the generator only writes valid TOML
    outcome = migrate_text(text)
    assert outcome.problems == []
    new_text = text if outcome.new_text is None else outcome.new_text
    new = tomllib.loads(new_text)

    old_sections, new_sections = _sft_sections(old), _sft_sections(new)
    assert old_sections.keys() == new_sections.keys()
    for path, section in old_sections.items():
        assert _v2(new_sections[path]) == _v1(section), path
    # Something changes exactly when some SFT section's mask was missing: a partial table keeps
    # its meaning under v2 (the roles left out keep the v1 defaults).
    needs_change = any("loss_mask" not in s for s in old_sections.values())
    assert (outcome.new_text is not None) == needs_change
    assert _strip_masks(new) == _strip_masks(old)
    assert COMMENT.findall(new_text) == labels
    assert ("\r\n" in new_text) == ("\r\n" in text)
    assert new_text.endswith("\n") == text.endswith("\n") or text == ""
    # Every old line survives, in order, except a line holding an inline table that was completed.
    remaining = iter(new_text.splitlines())
    kept = [line for line in text.splitlines() if "{" not in line]
    assert all(any(line == candidate for candidate in remaining) for line in kept)
    assert migrate_text(new_text).new_text is None
