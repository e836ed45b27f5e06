"""Everything `lossmask migrate` is asked to do, in one frozen object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lossmask.config_files.stacks import Layer
from lossmask.migrate.runner import Mode
from lossmask.readers.registry import Reading


@dataclass(frozen=True)
class MigrateOptions:
    """`paths`: files and directories; `stacks`: stacks given as `@ a.toml @ b.toml`.

    `mode`: "write" rewrites files, "check" and "diff" write nothing; `show_diff` prints a unified
    diff of each change (with "check" too: the diff is printed and the exit code still says 1).
    `standalone`: files known to be launched alone, whatever they look like. `find_launches`:
    search the directories given, and the top level of the git repository holding each path,
    for launch lines (`uv run sft @ ...`) that make stacks. `exclude`, `extend_exclude`,
    `force_exclude`, `respect_gitignore`: which files a walk keeps, as for `validate` (None:
    as `[tool.lossmask]` says, else the default).
    `reader` / `from_version` say what the files mean now (`--reader`, `--schema-version`; else
    `[tool.lossmask]`, else prime-rl main); they are rewritten to lossmask's latest schema.
    """

    paths: Sequence[str] = ()
    stacks: Sequence[tuple[Layer, ...]] = ()
    standalone: Sequence[str] = ()
    mode: Mode = "write"
    show_diff: bool = False
    from_version: int | None = None  # a lossmask schema version: the files' source
    reader: str | None = None  # the source reader (lossmask.readers); None: [tool.lossmask]
    source: Reading | None = None  # the reading both resolve to (set by `run`)
    output_format: Literal["text", "json"] = "text"
    quiet: bool = False
    verbose: bool = False
    jobs: int | None = None  # None: one per CPU for large trees, 1 for small ones
    find_launches: bool = True
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    respect_gitignore: bool | None = None
