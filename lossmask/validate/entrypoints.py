"""Which prime-rl entrypoint launches a file: `validate` checks SFT configs as SFT configs and says
one line about every other kind (rl, evals, inference), so `--warnings-as-errors` stays usable on
a real prime-rl tree.

The evidence, strongest first:
1. launch lines under the directories given (`uv run rl @ configs/x/rl.toml` in a README, a
   script, CI YAML, or a TOML comment such as `#   uv run evals @ examples/evals/swe.toml`): the
   word before the layers is the entrypoint (`lossmask.config_files.launches`);
2. the file's shape: tables only an RL launch reads (`[orchestrator]`, `[trainer]`), an inference
   server's `[vllm]`, or a `model` that is a string (the `evals` entrypoint's shape; an SFT
   trainer's `[model]` is a table).
A file with no evidence is checked as an SFT config, as before. A file launched by `sft` is an SFT
config whatever else launches it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossmask.config_files import launches
from lossmask.config_files.launch_stacks import find_stacks
from lossmask.paths import LaunchFile, UnreadablePath, read_regular_file, walk

SFT_COMMANDS = frozenset({"sft", "lossmask"})
# Entrypoints whose configs are not SFT trainer configs (prime-rl's, and `evals`).
OTHER_COMMANDS = frozenset({"rl", "trainer", "orchestrator", "inference", "eval", "evals"})


@dataclass(frozen=True)
class Entrypoint:
    command: str
    evidence: str
    """Why: `launched by `rl @ a.toml` at README.md:8`, or the shape that says so."""

    @property
    def is_sft(self) -> bool:
        return self.command in SFT_COMMANDS


@dataclass
class LaunchEvidence:
    """The entrypoints the launch lines under some directories give each file (absolute path)."""

    commands: dict[str, list[tuple[str, str]]]

    @classmethod
    def gather(cls, directories: Sequence[str]) -> LaunchEvidence:
        """Every launch under `directories` whose layers resolve to files (as migrate resolves
        them, `launch_stacks.find_stacks`); a launch that cannot be resolved says nothing."""
        commands: dict[str, list[tuple[str, str]]] = {}
        for directory in directories:
            root = launches.repository_root(directory)

            def root_of(_file: str, root: str = root) -> str:
                return root

            found = find_stacks(
                [line for line in _launch_lines(directory) if line.command is not None],
                root_of=root_of,
                known_files=(),
                name_of=os.path.realpath,
            )
            for stack in found.stacks:
                if stack.command is None:
                    continue
                where = f"launched by `{stack.describe()}` at {', '.join(stack.sources)}"
                for layer in stack.layers:
                    commands.setdefault(layer.path, []).append((stack.command, where))
        return cls(commands)

    def entrypoint(self, path: str | Path, config: Mapping[str, Any] | None) -> Entrypoint | None:
        """The entrypoint of one file (see the module doc); None: no evidence."""
        found = self.commands.get(os.path.realpath(path))
        if found is None:  # a file named on the command line: its own comments may say
            found = [
                (line.command, f"launched by `{line.command} ...` at {line.where}")
                for line in _toml_comment_lines(str(path))
                if line.command is not None
                and any(
                    layer.path is not None
                    and os.path.realpath(layer.path) == os.path.realpath(path)
                    for layer in line.layers
                )
            ]
        for command, where in found:
            if command in SFT_COMMANDS:
                return Entrypoint("sft", where)
        for command, where in found:
            if command in OTHER_COMMANDS:
                return Entrypoint(command, where)
        return shape_entrypoint(config) if config is not None else None


def _launch_lines(directory: str) -> list[launches.LaunchLine]:
    found: list[launches.LaunchLine] = []
    for listing in walk(directory, launch_files=True):
        for entry in listing:
            if isinstance(entry, LaunchFile):
                found.extend(launches.read_launch_file(entry.path))
            elif isinstance(entry, tuple):
                found.extend(_toml_comment_lines(entry[0]))
    return found


def _toml_comment_lines(path: str) -> list[launches.LaunchLine]:
    """The launches in a TOML file's comments; only a regular file is read (a FIFO would block),
    and one that cannot be read holds none (the check reports why)."""
    try:
        raw = read_regular_file(path)
    except (UnreadablePath, OSError):
        return []
    text = raw[: launches.MAX_LAUNCH_FILE_BYTES].decode("utf-8", errors="replace")
    return launches.launch_lines(text, path, comments_only=True)


def shape_entrypoint(config: Mapping[str, Any]) -> Entrypoint | None:
    """The entrypoint a file's tables say it is for, when that cannot be an SFT trainer."""
    for table in ("orchestrator", "trainer"):
        if isinstance(config.get(table), Mapping):
            return Entrypoint("rl", f"its [{table}] table is read by an rl launch")
    data = config.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("fake"), Mapping):
        return Entrypoint("trainer", "its [data.fake] table is the RL trainer's fake-data loader")
    if isinstance(config.get("vllm"), Mapping):
        return Entrypoint("inference", "its [vllm] table is an inference server's")
    if isinstance(config.get("model"), str) and "eval" in config and "data" not in config:
        return Entrypoint("evals", "its model is a string beside [eval], as an evals config has")
    return None


def names_sft(path: str | Path) -> bool:
    """Whether the file's name says SFT (`sft.toml`, `slim_sft.toml`)."""
    stem = Path(path).stem.lower().replace("-", "_")
    return "sft" in stem.split("_")
