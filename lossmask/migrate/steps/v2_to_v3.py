"""Schema v2 -> v3: nothing to rewrite; v3 only adds `content_roles`.

Every v2 config means the same under v3: an absent `content_roles` is empty, and `loss_mask` reads
the same. The one text whose meaning would change is a v2 file that already holds a
`content_roles` key: v2 ignores it (an unknown key), v3 would train those messages' bodies. That is
reported, never rewritten.
"""

from __future__ import annotations

from tomlkit import TOMLDocument

from lossmask.errors import Problem
from lossmask.migrate.compare import first_difference
from lossmask.migrate.steps import Change, Config, Inspection, Step
from lossmask.migrate.steps.v1_to_v2 import loss_mask_problems
from lossmask.schema.sections import sft_sections

NEW_KEY = "content_roles"


def inspect(config: Config) -> Inspection:
    result = Inspection()
    for path, section in sft_sections(config):
        if "loss_mask" in section:
            result.problems.extend(loss_mask_problems(section["loss_mask"], (*path, "loss_mask")))
        if NEW_KEY in section:
            result.problems.append(
                Problem(
                    "schema version 2 ignores content_roles (an unknown key there), version 3 "
                    "trains the body of those messages: the text means two things",
                    (*path, NEW_KEY),
                    suggestion="remove it to keep the v2 meaning, or validate the file as "
                    "version 3 (--schema-version 3) if that is what it is written for",
                )
            )
    return result


def apply(document: TOMLDocument, config: Config, changes: list[Change]) -> None:
    """Never called: `inspect` finds no change to make."""
    raise AssertionError("schema v2 -> v3 rewrites nothing")


def differences(old: Config, new: Config) -> list[Problem]:
    changed = first_difference(old, new)
    if changed is None:
        return []
    return [Problem("the rewrite changed a value", changed)]


STEP = Step(from_version=2, to_version=3, inspect=inspect, apply=apply, differences=differences)
