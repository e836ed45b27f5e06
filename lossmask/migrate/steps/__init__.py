"""The ordered chain of schema migration steps, one module per version step.

Each module in this package defines `STEP`, a `Step` from version N to N + 1. They are discovered by
importing every module here, so schema v3 adds `v2_to_v3.py` and nothing else changes: no branch
in the runner, no list to edit. The chain must be contiguous (1 -> 2 -> 3 ...); a gap is a
programming error reported at import time.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomlkit import TOMLDocument

from lossmask.errors import Problem
from lossmask.toml_text import TablePath as KeyPath

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading

Config = Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    """One edit a step makes (or would make) to a file, said in TOML words."""

    key: KeyPath
    description: str


@dataclass
class Inspection:
    """What a step found in a parsed config: problems that block it, or the changes it needs."""

    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """A pure conversion of a config from `from_version` to `to_version`.

    - `inspect` decides on the `tomllib` dict alone (fast: most files need nothing);
    - `apply` edits the tomlkit document in place, only when `inspect` found changes;
    - `differences` compares old and new dicts and says how the meaning changed (empty: none),
      which the safety check runs on every rewritten file before it is written.
    """

    from_version: int
    to_version: int
    inspect: Callable[[Config], Inspection]
    apply: Callable[[TOMLDocument, Config, list[Change]], None]
    differences: Callable[[Config, Config], list[Problem]]
    # A reader's translation (prime-rl main -> v3): its output is in the target schema's words,
    # which its own `inspect` does not read, so "a second run changes nothing" is the chain's
    # business from `to_version` on, not this step's.
    translation: bool = False


def _discover() -> tuple[Step, ...]:
    found: list[Step] = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        step = getattr(module, "STEP", None)
        if isinstance(step, Step):
            found.append(step)
    found.sort(key=lambda step: step.from_version)
    for before, after in itertools.pairwise(found):
        if before.to_version != after.from_version:
            raise RuntimeError(
                f"migration steps are not contiguous: {before.from_version}->{before.to_version} "
                f"then {after.from_version}->{after.to_version}"
            )
    return tuple(found)


STEPS: tuple[Step, ...] = _discover()
"""Every step, oldest first."""

SOURCE_VERSIONS: tuple[int, ...] = tuple(step.from_version for step in STEPS)
LATEST_VERSION: int = STEPS[-1].to_version


def steps_from(version: int) -> tuple[Step, ...]:
    """The steps that take a config written for `version` to the latest version."""
    if version not in SOURCE_VERSIONS:
        known = ", ".join(str(v) for v in SOURCE_VERSIONS)
        raise ValueError(f"cannot migrate from version {version}; known versions are {known}")
    return tuple(step for step in STEPS if step.from_version >= version)


def steps_after(version: int) -> tuple[Step, ...]:
    """The steps from `version` on (none from the latest)."""
    return tuple(step for step in STEPS if step.from_version >= version)


def steps_for(source: Reading) -> tuple[Step, ...]:
    """The steps that take a config as `source` reads it to lossmask's latest schema: a reader's
    own translation first (prime-rl main), then the version chain."""
    if source.is_main:
        from lossmask.migrate.steps.prime_rl_main_to_v3 import READER_STEP

        return (READER_STEP, *steps_after(READER_STEP.to_version))
    return steps_after(source.version)
