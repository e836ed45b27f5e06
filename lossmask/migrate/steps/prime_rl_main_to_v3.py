"""prime-rl main -> lossmask schema v3: write what main trains in the words of lossmask's schema.

prime-rl main (since PR #2988) reads a config differently from lossmask's schema in three places
that decide which tokens train (`lossmask/readers/prime_rl_main.py`):

- `[data.loss_mask]` with `assistant = true` (or no table) is the renderer's sampled tokens, and
  every other role set to true trains that message's body. lossmask v3 says it as
  `loss_mask = "sampled"` plus `content_roles = [...]`: the table is replaced. With
  `assistant = false` the table stays (its roles are exactly the content roles) and
  `content_roles` is added. No table: nothing to write, `"sampled"` is v3's default too.
- no `[renderer]` means the renderer registered for the model (`"auto"`); in lossmask's schema it
  means the chat template. So `[renderer] name = "auto"` is written.
- absent `[model] name`, `[data] name` and `seq_len` take main's defaults, which are not
  lossmask's: such a file is refused, naming the key and main's value to write.

A config main refuses (a renderer it rejects, `loss_mask = "sampled"`, `content_roles`) trains
nothing under main: it is refused too, with main's reason. Anything else is left alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import tomlkit
from tomlkit import TOMLDocument
from tomlkit.items import Comment, InlineTable, SingleKey, Table

from lossmask.config_files.launches import launch_dependence
from lossmask.config_files.stacks import Stack, compose, setting_layer, value_at
from lossmask.errors import Problem, format_key
from lossmask.migrate import placement
from lossmask.migrate import tomlkit_edit as edit
from lossmask.migrate.compare import first_difference
from lossmask.migrate.steps import Change, Config, Inspection, KeyPath, Step
from lossmask.readers import PRIME_RL_MAIN, prime_rl_main
from lossmask.readers.meanings import (
    MaskMeaning,
    UnreadableMask,
    renderer_meaning,
    section_meaning,
)
from lossmask.readers.registry import Reading, lossmask_reading
from lossmask.schema.sections import sft_sections

MAIN = Reading(PRIME_RL_MAIN, 1)
TARGET = lossmask_reading(3)
SAMPLED_COMMENT = '# lossmask migrate: prime-rl main (#2988) read the role table as "sampled"'
SAMPLED_CONTENT_COMMENT = (
    '# lossmask migrate: prime-rl main (#2988) read the role table as "sampled" + these bodies'
)
CONTENT_COMMENT = "# lossmask migrate: prime-rl main (#2988) trains these messages' bodies"
RENDERER_COMMENT = (
    "# lossmask migrate: prime-rl main renders SFT data with the renderer registered for the model"
)
RENDERER_ADDED = 'added name = "auto" (what no [renderer] means to prime-rl main)'


def _describe_change(meaning: MaskMeaning) -> str:
    return f"prime-rl main trains {meaning.describe()}; now said in lossmask schema v3 words"


def _needs_renderer(config: Config) -> bool:
    renderer = config.get("renderer")
    has_name = isinstance(renderer, Mapping) and "name" in renderer
    return not has_name and prime_rl_main.renders_real_samples(config)


def _default_problems(config: Config, path: KeyPath, section: Mapping[str, Any]) -> list[Problem]:
    """Keys whose absence means one thing to main and another to lossmask's schema."""
    missing: list[tuple[KeyPath, str, str]] = []
    if prime_rl_main.model_id(config) == prime_rl_main.DEFAULT_MODEL and not any(
        isinstance(config.get(t), Mapping) and "name" in config[t] for t in ("model", "tokenizer")
    ):
        missing.append(
            (("model", "name"), f'"{prime_rl_main.DEFAULT_MODEL}"', "the embedded model")
        )
    if "name" not in section:
        default = f'"{prime_rl_main.DEFAULT_DATASET}"'
        missing.append(((*path, "name"), default, "the embedded synthetic conversations"))
    if "seq_len" not in section:
        missing.append(((*path, "seq_len"), str(prime_rl_main.DEFAULT_SEQ_LEN), "2048"))
    return [
        Problem(
            f"not migrated: absent, this key is {value} to prime-rl main and {theirs} to "
            "lossmask's schema",
            key,
            suggestion=f"write {format_key(key[-1:])} = {value} to keep main's run",
        )
        for key, value, theirs in missing
    ]


def inspect(config: Config) -> Inspection:
    """A file alone: one that looks like an overlay is left to the stacks that launch it."""
    return _inspect(config, whole_launch=launch_dependence(config, "") is None)


def _inspect(config: Config, *, whole_launch: bool) -> Inspection:
    result = Inspection()
    sections = [(p, s) for p, s in sft_sections(config) if s.get("type", "sft") == "sft"]
    if not sections:
        return result
    refusals = prime_rl_main.loss_mask_refusals(config)
    refusal = prime_rl_main.renderer_refusal(config)
    if refusal is not None:
        refusals.append(refusal)
    if refusals:
        result.problems.extend(
            Problem(
                f"{problem.message}; prime-rl main trains nothing with this config, so there is "
                "no meaning to keep",
                problem.key,
                suggestion=problem.suggestion,
            )
            for problem in refusals
        )
        return result
    for path, section in sections:
        if whole_launch:
            result.problems.extend(_default_problems(config, path, section))
        if "loss_mask" not in section:
            continue
        try:
            meaning = section_meaning(section, MAIN)
            ours = section_meaning(section, TARGET)
        except UnreadableMask as error:
            result.problems.append(Problem(str(error), (*path, "loss_mask")))
            continue
        if meaning != ours:
            result.changes.append(Change((*path, "loss_mask"), _describe_change(meaning)))
    if _needs_renderer(config) and whole_launch:
        result.changes.append(Change(("renderer", "name"), RENDERER_ADDED))
    return result


def apply(document: TOMLDocument, config: Config, changes: list[Change]) -> None:
    ended_with_newline = document.as_string().endswith("\n")
    for change in changes:
        if change.key == ("renderer", "name"):
            placement.add_table(document, (), "renderer", [("name", "auto")], RENDERER_COMMENT)
            continue
        path = change.key[:-1]
        section = config
        for part in path:
            section = section[part]
        rewrite_loss_mask(document, path, section_meaning(section, MAIN))
    if ended_with_newline and not document.as_string().endswith("\n"):
        # A replaced table at the end of the file took the file's last newline with it.
        document.add(tomlkit.nl())


def _header(document: TOMLDocument, path: KeyPath) -> Table:
    found = [e for e in edit.entries_at(document, path) if e.kind == "header"]
    if len(found) != 1:
        raise ValueError(
            f"[{format_key(path)}] is not written as one [{format_key(path)}] table; rewrite its "
            "loss_mask by hand"
        )
    table: Table = found[0].item  # type: ignore[assignment]
    return table


def rewrite_loss_mask(document: TOMLDocument, path: KeyPath, meaning: MaskMeaning) -> None:
    """Say `meaning` (main's) in v3 words in the `[path]` table that holds the loss_mask."""
    table = _header(document, path)
    container = table.value
    lines: list[tuple[Any, Any]] = []
    if meaning.loss_mask == "sampled":
        (entry,) = [e for e in edit.entries_at(document, (*path, "loss_mask"))]
        if isinstance(entry.item, Table) and any(
            isinstance(item, Comment) for _, item in entry.item.value.body
        ):
            raise ValueError(
                f"[{format_key((*path, 'loss_mask'))}] holds comments that replacing it would "
                "drop; rewrite it by hand"
            )
        if not isinstance(entry.item, Table | InlineTable) or entry.owner is not container:
            raise ValueError(f"{format_key((*path, 'loss_mask'))} is not a table of [{path[-1]}]")
        container.remove("loss_mask")
        comment = SAMPLED_CONTENT_COMMENT if meaning.content_roles else SAMPLED_COMMENT
        lines += [
            edit.comment_entry(comment),
            (SingleKey("loss_mask"), tomlkit.item("sampled")),
        ]
    if meaning.content_roles:
        if not lines:
            lines.append(edit.comment_entry(CONTENT_COMMENT))
        lines.append((SingleKey("content_roles"), tomlkit.item(list(meaning.content_roles))))
    edit.insert_entries(container, edit.own_keys_end(table), lines)


# --- the equivalence check ----------------------------------------------------------------------


def _without_mask_keys(config: Config, added_renderer: bool) -> dict[str, Any]:
    stripped = copy.deepcopy(dict(config))
    for path, _ in sft_sections(config):
        node: Any = stripped
        for part in path:
            node = node[part]
        node.pop("loss_mask", None)
        node.pop("content_roles", None)
    if added_renderer:
        stripped.pop("renderer", None)
    return stripped


def differences(old: Config, new: Config) -> list[Problem]:
    """How `new` read by lossmask schema v3 differs from `old` read by prime-rl main."""
    problems = []
    old_sections, new_sections = dict(sft_sections(old)), dict(sft_sections(new))
    if old_sections.keys() != new_sections.keys():
        problems.append(Problem("the rewrite changed which tables are SFT data sections"))
    for path, section in old_sections.items():
        before = section_meaning(section, MAIN)
        after = section_meaning(new_sections.get(path, {}), TARGET)
        if before != after:
            problems.append(
                Problem(
                    f"the rewrite would train {after.describe()} under lossmask schema v3 where "
                    f"prime-rl main trained {before.describe()}",
                    (*path, "loss_mask"),
                )
            )
    if old_sections and renderer_meaning(old, MAIN) != renderer_meaning(new, TARGET):
        problems.append(
            Problem(
                f"the rewrite renders with {renderer_meaning(new, TARGET) or 'the chat template'} "
                f"where prime-rl main rendered with {renderer_meaning(old, MAIN)}",
                ("renderer", "name"),
            )
        )
    added = "renderer" not in old and "renderer" in new
    changed = first_difference(_without_mask_keys(old, False), _without_mask_keys(new, added))
    if changed is not None:
        problems.append(Problem("the rewrite changed a value outside the mask", changed))
    return problems


READER_STEP = Step(
    from_version=1,
    to_version=TARGET.version,
    inspect=inspect,
    apply=apply,
    differences=differences,
    translation=True,
)
"""Not in the version chain (`STEPS`): the first step when the source reader is prime-rl main."""


# --- stacks (`lossmask.migrate.stack_plan`) ------------------------------------------------------


def _layers(stack: Stack, configs: Sequence[Config]) -> list[tuple[KeyPath, Config]]:
    return [(layer.at, config) for layer, config in zip(stack.layers, configs, strict=True)]


def _in_layer(layers: Sequence[tuple[KeyPath, Config]], key: KeyPath) -> tuple[int, KeyPath] | None:
    where = setting_layer(layers, key)
    if where is None:
        return None
    index, written = where
    return index, tuple(str(part) for part in written)


def stack_demands(stack: Stack, configs: Sequence[Config]) -> list[tuple[int, Change]]:
    """Each change the composed run needs, in the layer that writes it (the renderer: the root)."""
    layers = _layers(stack, configs)
    demands = []
    for change in _inspect(compose(layers), whole_launch=True).changes:
        if change.key == ("renderer", "name"):
            demands.append((0, change))
            continue
        where = _in_layer(layers, change.key)
        if where is not None:
            demands.append((where[0], Change(where[1], change.description)))
    return demands


def stack_problems(stack: Stack, loaded: Sequence[Any]) -> list[Problem]:
    """Why a stack cannot be migrated, each at the file (and line) that set its key."""
    from lossmask.migrate.engine import located

    layers = _layers(stack, [item.config for item in loaded])
    composed = compose(layers)
    found = list(_inspect(composed, whole_launch=True).problems)
    if stack.launches_sft and "data" not in composed:
        found.append(
            Problem(
                f"not migrated: no [data] table: prime-rl main trains its default dataset "
                f'"{prime_rl_main.DEFAULT_DATASET}" (seq_len {prime_rl_main.DEFAULT_SEQ_LEN}), '
                "lossmask's schema its embedded synthetic conversations",
                ("data",),
                suggestion=f'write [data] name = "{prime_rl_main.DEFAULT_DATASET}" and seq_len = '
                f"{prime_rl_main.DEFAULT_SEQ_LEN} to keep main's run",
            )
        )
    for path, _ in sft_sections(composed):
        writers = [
            index
            for index, (at, config) in enumerate(layers)
            if _sets(config, at, (*path, "loss_mask"))
        ]
        if len(writers) > 1:
            found.append(
                Problem(
                    "not migrated: several files of this stack set loss_mask; prime-rl main reads "
                    "their merge, which no single file's rewrite can keep",
                    (*path, "loss_mask"),
                    suggestion="set loss_mask in one file of the stack",
                )
            )
    out = []
    for problem in found:
        where = _in_layer(layers, tuple(str(p) for p in problem.key)) if problem.key else None
        index, key = where if where is not None else (0, tuple(str(p) for p in problem.key))
        out.extend(
            located(
                [Problem(problem.message, key, suggestion=problem.suggestion)],
                stack.layers[index].path,
                loaded[index].text,
            )
        )
    return out


def _sets(config: Config, at: KeyPath, key: KeyPath) -> bool:
    if key[: len(at)] != at:
        return False
    return value_at(config, key[len(at) :])[0]


def stack_differences(stack: Stack, old: Sequence[Config], new: Sequence[Config]) -> list[str]:
    before = compose(_layers(stack, old))
    after = compose(_layers(stack, new))
    return [
        f"{format_key(problem.key)}: {problem.message}" if problem.key else problem.message
        for problem in differences(before, after)
    ]


def file_check(changes: Sequence[Change]) -> Any:
    """One rewritten file: its own tables mean under v3 what main read, nothing else changed."""

    def check(old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
        problems = []
        for change in changes:
            if change.key == ("renderer", "name"):
                if value_at(new, change.key) != (True, "auto"):
                    problems.append(Problem('[renderer] name = "auto" is not in place', change.key))
                continue
            path = change.key[:-1]
            before = section_meaning(value_at(old, path)[1], MAIN)
            after = section_meaning(value_at(new, path)[1], TARGET)
            if before != after:
                problems.append(
                    Problem(
                        f"the rewrite trains {after.describe()}, not {before.describe()}",
                        change.key,
                    )
                )
        added = any(change.key == ("renderer", "name") for change in changes)
        stripped_old = _strip_paths(
            old, [c.key[:-1] for c in changes if c.key[-1] == "loss_mask"], False
        )
        stripped_new = _strip_paths(
            new, [c.key[:-1] for c in changes if c.key[-1] == "loss_mask"], added
        )
        changed = first_difference(stripped_old, stripped_new)
        if changed is not None:
            problems.append(Problem("the rewrite changed a value outside the mask", changed))
        return problems

    return check


def _strip_paths(config: Config, paths: Sequence[KeyPath], renderer: bool) -> dict[str, Any]:
    stripped = copy.deepcopy(dict(config))
    for path in paths:
        node: Any = stripped
        for part in path:
            node = node[part]
        node.pop("loss_mask", None)
        node.pop("content_roles", None)
    if renderer:
        stripped.pop("renderer", None)
    return stripped
