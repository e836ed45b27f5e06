"""`lossmask migrate --explain FILE`: why a file is or is not rewritten, stack by stack.

For each stack the file takes part in (a file in none is a stack of one), it says where the stack
was found and, per SFT data section, what the composed run trains before (the old text as the
source reader reads it) and after (the text `migrate` would write, read as lossmask's latest
schema), in the words of `lossmask.readers.meanings`, the definition migrate proves; then
the launches that cannot be resolved and may compose the file; then the decision and its reason.
It runs the whole migration in check mode, so what it says is what `migrate` would do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lossmask.config_files.stacks import Layer, Stack, compose
from lossmask.errors import ConfigError, format_key
from lossmask.migrate.options import MigrateOptions
from lossmask.migrate.report import UNDECIDED, MigrateReport
from lossmask.migrate.runner import FileResult
from lossmask.migrate.stack_plan import stack_sections
from lossmask.readers.meanings import UnreadableMask, renderer_meaning, section_meaning
from lossmask.readers.registry import Reading, lossmask_reading
from lossmask.schema.validation import parse_toml


def _same(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _texts(report: MigrateReport) -> dict[str, str]:
    """The new text of every file the run would rewrite, by path."""
    return {r.path: r.new_text for r in report.files if r.new_text is not None}


def _config(path: str, texts: Mapping[str, str], new: bool) -> dict[str, Any] | None:
    try:
        if new and path in texts:
            return parse_toml(texts[path], path)
        with open(path, encoding="utf-8", newline="") as handle:
            return parse_toml(handle.read(), path)
    except (OSError, UnicodeDecodeError, ConfigError):
        return None


def _meaning(
    composed: Mapping[str, Any], section: Mapping[str, Any] | None, reading: Reading
) -> str:
    try:
        mask = section_meaning(section, reading).describe()
    except UnreadableMask as exc:
        return f"nothing it can read ({exc})"
    renderer = renderer_meaning(composed, reading)
    return f"{mask} on {f'renderer {renderer}' if renderer else 'the chat template'}"


def _meanings(stack: Stack, texts: Mapping[str, str], source: Reading) -> list[str]:
    old = [_config(layer.path, texts, new=False) for layer in stack.layers]
    new = [_config(layer.path, texts, new=True) for layer in stack.layers]
    old_layers = [
        (layer.at, c) for layer, c in zip(stack.layers, old, strict=True) if c is not None
    ]
    new_layers = [
        (layer.at, c) for layer, c in zip(stack.layers, new, strict=True) if c is not None
    ]
    if len(old_layers) < len(stack.layers) or len(new_layers) < len(stack.layers):
        return ["    (a layer cannot be read; see the error below)"]
    old_config, new_config = compose(old_layers), compose(new_layers)
    before = stack_sections(old_config, stack.launches_sft)
    after = stack_sections(new_config, stack.launches_sft)
    if not before:
        return ["    no SFT data section: nothing here depends on the loss mask"]
    latest = lossmask_reading()
    lines = []
    for path, section in before.items():
        was = _meaning(old_config, section, source)
        will = _meaning(new_config, after.get(path), latest)
        same = "the same" if was == will else "CHANGED"
        lines.append(
            f"    [{format_key(path)}] loss_mask {_setter(stack, old, path)}: trains {was} "
            f"before (read as {source.label}), {will} after (read as {latest.label}): {same}"
        )
    return lines


def _setter(
    stack: Stack, configs: Sequence[Mapping[str, Any] | None], path: tuple[str, ...]
) -> str:
    for layer, config in reversed(list(zip(stack.layers, configs, strict=True))):
        if path[: len(layer.at)] != layer.at or config is None:
            continue
        node: Any = config
        for part in (*path[len(layer.at) :], "loss_mask"):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            return f"set by {layer.path}"
    return "set by no layer"


def _decision(result: FileResult | None, file: str) -> list[str]:
    if result is None:
        return [
            f"{file}: not among the files migrate looks at (excluded, ignored by git, or "
            "not a .toml file); it is not rewritten"
        ]
    if result.status == "error":
        return [f"not rewritten: {problem.format()}" for problem in result.problems]
    if result.status == "undecided":
        why = "; ".join(result.held_by) or result.depends_on_launch or ""
        if result.held_by:
            why = "a launch that cannot be resolved may compose it, see above"
        return [
            f'not rewritten: {UNDECIDED} ({why}); `--stack "@ ... @ {file}"` or '
            f"`--standalone {file}` settles it"
        ]
    if result.status in ("would_migrate", "migrated"):
        return ["would be rewritten (by `lossmask migrate`): " + "; ".join(result.changes)]
    return ["not rewritten: every stack it is in trains the same under lossmask's latest schema"]


def explain(report: MigrateReport, file: str) -> list[str]:
    """The lines `--explain FILE` prints, from a check-mode run that included `file`."""
    result = next((r for r in report.files if _same(r.path, file)), None)
    name = result.path if result is not None else file
    stacks = [s for s in report.stacks if any(_same(layer.path, name) for layer in s.layers)]
    lines = [name]
    texts = _texts(report)
    source = report.source or lossmask_reading()
    if not stacks:
        alone = Stack((Layer(name),))
        lines.append("  in no stack found: judged as launched alone (`sft @ FILE`)")
        lines.extend(_meanings(alone, texts, source))
    for stack in stacks:
        lines.append(f"  in stack `{stack.describe()}` (from {', '.join(stack.sources)})")
        lines.extend(_meanings(stack, texts, source))
    for hold in report.holds:
        if any(_same(held, name) for held in hold.files):
            lines.append(f"  may be composed by {hold.describe()}")
    lines.extend("  " + line for line in _decision(result, name))
    return lines


def explain_options(options: MigrateOptions, file: str) -> MigrateOptions:
    """The options of the check-mode run behind `--explain FILE`: FILE is among the paths."""
    paths = list(options.paths) or [file]
    if not any(_same(p, file) or os.path.isdir(p) for p in paths):
        paths.append(file)
    return replace(options, paths=paths, mode="check", show_diff=False)
