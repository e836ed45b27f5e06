"""Migrate stacks of files so that every launched run trains what it trained (schema v1 -> v2).

The rule: a stack's effective mask, per SFT data section, is the deep merge of its layers. Only an
*absent* mask changes meaning under v2 (a partial role table reads the roles left out with v1's
defaults), so where no layer sets a section's `loss_mask`, the explicit legacy table goes into the
stack's root (its first layer that can hold the section), creating the table there if the root has
none; otherwise nothing changes. An `sft` launch with no `[data]` at all trains the trainer's
default dataset, so its `[data]` is such a section too.

Every edit is checked twice before anything is written: the root file alone (it parses, keeps its
comments and line endings, and nothing but the new table changed), and every stack the file takes
part in (composed v1 meaning of the old files == composed v2 meaning of the new files, every other
key equal, and planning again finds nothing to do). A file whose edit for one stack would change
what another stack trains (a root here, an overlay there) is a conflict: reported, left alone.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lossmask.config_files.launch_stacks import Hold
from lossmask.config_files.stacks import KeyPath, Stack, compose, setting_layer, value_at
from lossmask.errors import ConfigError, Problem, format_key
from lossmask.migrate import engine, safety
from lossmask.migrate.compare import first_difference
from lossmask.migrate.runner import FileResult, unified_diff
from lossmask.migrate.steps import Change, Step, v1_to_v2
from lossmask.migrate.steps.v1_to_v2 import ADDED, LEGACY_FLAGS, MISSING, meaning_v1, meaning_v2
from lossmask.schema.sections import SectionPath, sft_sections
from lossmask.schema.validation import read_toml

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading

LEGACY_TABLE = dict(LEGACY_FLAGS)


def stack_sections(
    composed: Mapping[str, Any], launches_sft: bool
) -> dict[SectionPath, Mapping[str, Any]]:
    """The SFT data sections of a composed config; an `sft` launch always has `[data]`."""
    sections = dict(sft_sections(composed))
    if launches_sft and "data" not in composed:
        sections[("data",)] = {}
    return sections


@dataclass
class _Loaded:
    config: dict[str, Any]
    text: str
    before: os.stat_result  # taken before reading, to detect an edit before the write


@dataclass
class StackRun:
    """What migrating the stacks decided: a result per file taking part in any stack, by path."""

    results: dict[str, FileResult] = field(default_factory=dict)
    loaded: dict[str, _Loaded] = field(default_factory=dict)
    edits: dict[str, dict[KeyPath, Change]] = field(default_factory=dict)  # file -> its changes
    wanted_by: dict[str, list[Stack]] = field(default_factory=dict)  # file -> stacks needing it
    new_texts: dict[str, str] = field(default_factory=dict)
    new_configs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StackRule:
    """How one source reading's stacks are migrated: the step that edits a file, which edits each
    stack needs (`demands`: (layer index, change in that layer's own keys)), what makes a stack
    impossible to migrate (`problems`), how a composed run's meaning may differ after the edits
    (`differences`), and the check of one rewritten file (`file_check`)."""

    step: Step
    demands: Callable[[Stack, Sequence[Mapping[str, Any]]], list[tuple[int, Change]]]
    problems: Callable[[Stack, Sequence[_Loaded]], list[Problem]]
    differences: Callable[
        [Stack, Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]], list[str]
    ]
    file_check: Callable[[Sequence[Change]], engine.Check]


def _demands(stack: Stack, configs: Sequence[Mapping[str, Any]]) -> list[tuple[int, Change]]:
    """(layer index, change relative to that layer) of each legacy table the stack needs."""
    layers = [(layer.at, config) for layer, config in zip(stack.layers, configs, strict=True)]
    composed = compose(layers)
    needed = []
    for path, section in stack_sections(composed, stack.launches_sft).items():
        if "loss_mask" in section:
            continue
        index = next(
            (i for i, layer in enumerate(stack.layers) if path[: len(layer.at)] == layer.at), None
        )
        if index is not None:
            relative = path[len(stack.layers[index].at) :]
            needed.append((index, Change((*relative, "loss_mask"), ADDED)))
    return needed


def _mask_problems(stack: Stack, loaded: Sequence[_Loaded]) -> list[Problem]:
    layers = [(layer.at, item.config) for layer, item in zip(stack.layers, loaded, strict=True)]
    composed = compose(layers)
    problems = []
    for path, section in stack_sections(composed, stack.launches_sft).items():
        if "loss_mask" not in section:
            continue
        for problem in v1_to_v2.loss_mask_problems(section["loss_mask"], (*path, "loss_mask")):
            where = setting_layer(layers, problem.key)
            index, key = where if where is not None else (0, problem.key)
            item, layer = loaded[index], stack.layers[index]
            problems.extend(
                engine.located(
                    [Problem(problem.message, key, suggestion=problem.suggestion)],
                    layer.path,
                    item.text,
                )
            )
    return problems


def _stack_differences(
    stack: Stack, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[str]:
    """How the composed run changed (empty: it trains what it trained, everything else equal)."""
    found = []
    old_config = compose([(layer.at, c) for layer, c in zip(stack.layers, old, strict=True)])
    new_config = compose([(layer.at, c) for layer, c in zip(stack.layers, new, strict=True)])
    old_sections = stack_sections(old_config, stack.launches_sft)
    new_sections = stack_sections(new_config, stack.launches_sft)
    if old_sections.keys() != new_sections.keys():
        found.append("the rewrite changed which tables are SFT data sections")
    for path, section in old_sections.items():
        before = meaning_v1(section.get("loss_mask", MISSING))
        after = meaning_v2(new_sections.get(path, {}).get("loss_mask", MISSING))
        problem = v1_to_v2.meaning_problem(before, after, (*path, "loss_mask"))
        if problem is not None:
            found.append(f"{format_key(problem.key)}: {problem.message}")
    for config in (old_config, new_config):
        if stack.launches_sft:
            config.setdefault("data", {})  # the default dataset, now written down
    skip = (frozenset(old_sections), frozenset(new_sections))
    changed = first_difference(old_config, new_config, skip=skip)
    if changed is not None:
        found.append(f"{format_key(changed)}: the rewrite changed a value outside loss_mask")
    if not found and _demands(stack, new):
        found.append("migrating the rewritten stack again would change it")
    return found


def _root_check(changes: Sequence[Change]) -> engine.Check:
    """The per-file check of a root's rewrite: only the legacy tables were added."""
    relative_paths = [change.key[:-1] for change in changes]

    def check(old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
        problems = []
        stripped = copy.deepcopy(new)
        for path in relative_paths:
            found, value = value_at(new, (*path, "loss_mask"))
            if not found or value != LEGACY_TABLE:
                problems.append(Problem(f"the legacy table is not in place{safety.SUFFIX}", path))
                continue
            _remove(stripped, old, (*path, "loss_mask"))
        changed = first_difference(old, stripped)
        if changed is not None:
            problems.append(
                Problem(f"the rewrite changed a value outside loss_mask{safety.SUFFIX}", changed)
            )
        return problems

    return check


def _remove(config: dict[str, Any], old: Mapping[str, Any], key: KeyPath) -> None:
    """Delete `key`, and the tables above it that it alone created (absent from `old`)."""
    node: Any = config
    for part in key[:-1]:
        node = node[part]
    del node[key[-1]]
    for depth in range(len(key) - 1, 0, -1):
        parent: Any = config
        for part in key[: depth - 1]:
            parent = parent[part]
        if parent[key[depth - 1]] == {} and not value_at(old, key[:depth])[0]:
            del parent[key[depth - 1]]


def held_back(result: FileResult, holds: Sequence[Hold]) -> FileResult:
    """`result`'s file, left as it is: a launch that cannot be resolved may compose it."""
    return FileResult(
        result.path,
        "undecided",
        result.target,
        depends_on_launch=result.depends_on_launch,
        held_by=[
            f"held back by the launch at {hold.launch.where}, which cannot be resolved"
            for hold in holds
        ],
    )


def _spread_holds(
    needs: Sequence[tuple[Stack, list[tuple[int, Any]]]], held: dict[str, list[Hold]]
) -> None:
    """A held file that a stack needs to rewrite holds back that whole stack: its other files
    are never migrated on their own while the stack's root is undecided."""
    spreading = True
    while spreading:
        spreading = False
        for stack, demands in needs:
            holding = [
                hold for index, _ in demands for hold in held.get(stack.layers[index].path, [])
            ]
            if not holding:
                continue
            for layer in stack.layers:
                if layer.path not in held:
                    held[layer.path] = list(dict.fromkeys(holding))
                    spreading = True


def migrate_stacks(
    stacks: Sequence[Stack],
    *,
    show_diff: bool,
    rule: StackRule | None = None,
    held: Mapping[str, list[Hold]] | None = None,
) -> StackRun:
    """Plan, rewrite and check every stack; one result per file taking part in any stack.

    `rule`: how the source reading's stacks migrate (default: schema v1 -> v2). A file in `held`
    (a launch that cannot be resolved may compose it) is never rewritten: where a stack needs it
    rewritten, it and the stack's other files are "undecided".
    """
    rule = rule or V1_TO_V2
    run = StackRun()
    holds = dict(held or {})
    _load(run, stacks)
    usable = [stack for stack in stacks if _composable(run, stack, rule)]
    needs = []
    for stack in usable:
        configs = [run.loaded[layer.path].config for layer in stack.layers]
        needs.append((stack, rule.demands(stack, configs)))
    _spread_holds(needs, holds)
    for stack, demands in needs:
        for index, change in demands:
            name = stack.layers[index].path
            if name in holds:
                if name not in run.results:
                    run.results[name] = held_back(FileResult(name, "undecided"), holds[name])
                continue
            run.edits.setdefault(name, {})[change.key] = change
            run.wanted_by.setdefault(name, []).append(stack)
    for name, edits in run.edits.items():
        if name not in run.results:
            ordered = [edits[key] for key in sorted(edits, key=lambda k: (len(k), k))]
            _rewrite_root(run, name, ordered, rule)
    _check_stacks(run, usable, rule)
    for stack in stacks:
        for layer in stack.layers:
            name = layer.path
            if name in run.results:
                continue
            if name not in run.new_texts:
                run.results[name] = FileResult(name, "unchanged")
                continue
            text, new_text = run.loaded[name].text, run.new_texts[name]
            run.results[name] = FileResult(
                name,
                "would_migrate",
                changes=[
                    f"{format_key(key)}: {change.description}"
                    for key, change in sorted(run.edits[name].items())
                ],
                diff=unified_diff(name, text, new_text) if show_diff else None,
                new_text=new_text,
                before=run.loaded[name].before,
            )
    return run


def _load(run: StackRun, stacks: Sequence[Stack]) -> None:
    for stack in stacks:
        for layer in stack.layers:
            if layer.path in run.loaded or layer.path in run.results:
                continue
            try:
                before = os.stat(layer.path)
                config, text = read_toml(layer.path)
            except ConfigError as exc:
                run.results[layer.path] = FileResult(layer.path, "error", problems=exc.problems)
                continue
            except OSError as exc:
                problem = Problem(f"cannot read: {exc.strerror or exc}", file=layer.path)
                run.results[layer.path] = FileResult(layer.path, "error", problems=[problem])
                continue
            run.loaded[layer.path] = _Loaded(config, text, before)


def _composable(run: StackRun, stack: Stack, rule: StackRule) -> bool:
    """Whether every layer was read and the composed masks are valid; if not, why, per file."""
    broken = [layer.path for layer in stack.layers if layer.path not in run.loaded]
    items = [run.loaded[layer.path] for layer in stack.layers if layer.path in run.loaded]
    problems = [] if broken else rule.problems(stack, items)
    if not broken and not problems:
        return True
    reason = ", ".join(broken) or "an invalid loss_mask"
    _fail(
        run,
        stack,
        problems,
        f"not migrated: stack `{stack.describe()}` cannot be composed ({reason})",
    )
    return False


def _rewrite_root(run: StackRun, name: str, changes: list[Change], rule: StackRule) -> None:
    item = run.loaded[name]
    result = engine.rewrite(rule.step, item.text, item.config, changes, rule.file_check(changes))
    if isinstance(result, list):
        problems = engine.located(result, name, item.text)
        run.results[name] = FileResult(name, "error", problems=problems)
        return
    run.new_texts[name], run.new_configs[name] = result


def _check_stacks(run: StackRun, stacks: Sequence[Stack], rule: StackRule) -> None:
    """Every stack a rewritten file takes part in must still train what it trained."""
    broken: dict[str, list[tuple[Stack, list[str]]]] = {}
    for stack in stacks:
        names = [layer.path for layer in stack.layers]
        if not any(name in run.new_texts for name in names):
            continue
        old = [run.loaded[name].config for name in names]
        new = [run.new_configs.get(name, run.loaded[name].config) for name in names]
        differences = rule.differences(stack, old, new)
        for name in names:
            if differences and name in run.new_texts:
                broken.setdefault(name, []).append((stack, differences))
    for name, failures in broken.items():
        del run.new_texts[name]
        wanted = run.wanted_by.get(name, [])
        others = [(stack, why) for stack, why in failures if stack not in wanted]
        said = "; ".join(
            f"`{stack.describe()}` ({'; '.join(why)})" for stack, why in others or failures
        )
        if others:
            needed = "; ".join(f"`{stack.describe()}`" for stack in wanted)
            problem = Problem(
                f"conflict: as the root of {needed} this file needs the legacy loss_mask table, "
                f"which would change what another stack trains: {said}; not rewritten",
                file=name,
                suggestion="give each launch its own root file, or set loss_mask in the overlay "
                "by hand",
            )
        else:
            problem = Problem(
                f"the rewrite would change what {said} trains{safety.SUFFIX}", file=name
            )
        run.results[name] = FileResult(name, "error", problems=[problem])


def _fail(run: StackRun, stack: Stack, problems: list[Problem], message: str) -> None:
    for problem in problems:
        result = run.results.setdefault(problem.file or "", FileResult(problem.file or "", "error"))
        result.problems.append(problem)
    for layer in stack.layers:
        if layer.path not in run.results:
            run.results[layer.path] = FileResult(
                layer.path, "error", problems=[Problem(message, file=layer.path)]
            )


V1_TO_V2 = StackRule(
    step=v1_to_v2.STEP,
    demands=_demands,
    problems=_mask_problems,
    differences=_stack_differences,
    file_check=_root_check,
)
"""Schema v1 (prime-rl before #2988) -> v2: the legacy table into each stack's root."""
NOTHING = StackRule(
    step=v1_to_v2.STEP,
    demands=lambda stack, configs: [],
    problems=lambda stack, loaded: [],
    differences=lambda stack, old, new: [],
    file_check=_root_check,
)
"""A source whose stacks need no edit (lossmask's schema from v2 on)."""


def rule_for(source: Reading) -> StackRule:
    """The stack rule of a source reading."""
    if source.is_main:
        from lossmask.migrate.steps import prime_rl_main_to_v3 as main

        return StackRule(
            step=main.READER_STEP,
            demands=main.stack_demands,
            problems=main.stack_problems,
            differences=main.stack_differences,
            file_check=main.file_check,
        )
    return V1_TO_V2 if source.version == 1 else NOTHING
