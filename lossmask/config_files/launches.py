"""The evidence of how configs are launched: `@ path.toml` sequences in the tree being migrated.

prime-rl composes a run from files given as `uv run sft @ base.toml @ overlay.toml` (and
`--data @ data.toml` for a fragment). Those words are written down in the repository: in shell
scripts, Makefiles, CI workflows (YAML), Markdown, Python launchers (`subprocess.run(["uv",
"run", "sft", "@", "a.toml"])`) and TOML comments (prime-rl heads files with `# Compose: uv run
sft @ a.toml @ b.toml`). Each format is read as what runs it would read it (`launch_formats`,
`shell`, `python_launches`): variables the file sets, `cd DIR &&`, quoting, folded YAML, Make
variables; commented-out lines are not launches.

A launch is a `LaunchLine` whose layers are `Word`s: a layer the file spells out names one path;
a layer with an `Unknown` piece (a variable set elsewhere, a glob, a command substitution) cannot
be resolved, and `launch_stacks` holds back every file it could name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lossmask.config_files.shell import Command
from lossmask.config_files.stacks import KeyPath
from lossmask.config_files.words import Unknown, Word
from lossmask.errors import format_key
from lossmask.schema.sections import sft_sections

# prime-rl's entrypoints; the last one named before the layers is the launch's command.
ENTRYPOINTS = ("sft", "rl", "trainer", "orchestrator", "inference", "eval")
# Files larger than this are not searched (a data dump, not a script).
MAX_LAUNCH_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LaunchLayer:
    """One `@ file` of a launch: the file as the launch spells it, and where its keys land."""

    word: Word
    at: KeyPath = ()

    @property
    def path(self) -> str | None:
        """The path, when the file spells it out (no unknown piece)."""
        return self.word.text

    def describe(self) -> str:
        written = self.word.describe()
        return f"--{'.'.join(self.at)} @ {written}" if self.at else f"@ {written}"


@dataclass(frozen=True)
class LaunchLine:
    """One launch written in a file: where, with which entrypoint, its layers, and the directory
    it runs in relative to where it starts (`cd sub && ...`; None: where it starts)."""

    file: str
    line: int
    command: str | None
    layers: tuple[LaunchLayer, ...]
    directory: Word | None = None
    # Why the layers cannot all be read as TOML configs (a `.json` layer among them), if so.
    unreadable_layer: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        return " ".join(layer.describe() for layer in self.layers)

    def unresolved(self) -> list[str]:
        """Why this launch cannot be resolved to files, in words (empty: it can)."""
        # Each reason once, with the words it makes unreadable.
        words: dict[str, list[str]] = {}
        if self.directory is not None:
            for unknown in self.directory.unknowns:
                words.setdefault(unknown.reason, []).append("the directory it runs in")
        for layer in self.layers:
            for unknown in layer.word.unknowns:
                written = f"`{layer.word.describe()}`"
                if written not in words.setdefault(unknown.reason, []):
                    words[unknown.reason].append(written)
        reasons = [f"{', '.join(names)}: {reason}" for reason, names in words.items()]
        if self.unreadable_layer:
            reasons.append(self.unreadable_layer)
        return reasons


def launch_in_words(
    words: Sequence[Word], file: str, line: int, directory: Word | None = None
) -> LaunchLine | None:
    """The launch in one command's words (`uv run sft @ a.toml --data @ d.toml`), or None."""
    layers: list[LaunchLayer] = []
    others: list[str] = []
    first = None
    index = 0
    while index < len(words):
        word = words[index]
        prefix = word.literal_prefix
        layer_word: Word | None = None
        if word.text == "@" and index + 1 < len(words):
            layer_word = words[index + 1]
            step = 2
        elif prefix.startswith("@") and len(word.pieces) and (len(prefix) > 1 or word.text is None):
            layer_word, step = word.drop_prefix(1), 1
        if layer_word is None:
            index += 1
            continue
        if first is None:
            first = index
        option = words[index - 1].text if index > 0 else None
        at = _nesting(option)
        if layer_word.could_be_toml():
            layers.append(LaunchLayer(layer_word, at))
        elif any(mark in layer_word.literal_prefix for mark in "./"):
            others.append(layer_word.describe())  # a file, but not TOML (`@ trainer.json`)
        index += step
    if not layers or first is None:
        return None
    unreadable = None
    if others:
        unreadable = f"it also names {', '.join(others)}, which lossmask does not read as TOML"
    return LaunchLine(
        file,
        line,
        _command(words[:first]),
        tuple(layers),
        directory,
        unreadable,
    )


def from_commands(
    commands: Sequence[Command], file: str, lines: Sequence[int] | None = None
) -> list[LaunchLine]:
    """The launches among `commands`; `lines` maps a command's line (1-based) to the file's."""
    found = []
    for command in commands:
        line = lines[command.line - 1] if lines is not None else command.line
        launch = launch_in_words(command.words, file, line, command.directory)
        if launch is not None:
            found.append(launch)
    return found


def shifted(found: list[LaunchLine], first_line: int) -> list[LaunchLine]:
    """`found`, read from a text that starts at `first_line` of its file."""
    return [
        LaunchLine(
            launch.file,
            launch.line + first_line - 1,
            launch.command,
            launch.layers,
            launch.directory,
            launch.unreadable_layer,
        )
        for launch in found
    ]


def _nesting(option: str | None) -> KeyPath:
    if option is None or not option.startswith("--") or len(option) < 3 or "=" in option:
        return ()
    parts = tuple(option[2:].split("."))
    return parts if all(parts) else ()


def _command(before: Sequence[Word]) -> str | None:
    words = [word.text for word in before if word.text]
    for word in reversed(words):
        if word in ENTRYPOINTS:
            return word
    plain = [word for word in words if not word.startswith("-") and "=" not in word]
    return plain[-1] if plain else None


def launch_lines(text: str, file: str, *, comments_only: bool = False) -> list[LaunchLine]:
    """Every launch written in `text`, read as the format its name says (`comments_only`: a TOML
    file, whose launches are in its comments)."""
    # Deferred: the format readers are only needed when some text holds an `@`.
    if "@" not in text:
        return []
    from lossmask.config_files.launch_formats import read_launches

    return read_launches(text, file, toml=comments_only)


def read_launch_file(path: str) -> list[LaunchLine]:
    """The launches written in one script or document; an unreadable one holds none."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_LAUNCH_FILE_BYTES:
            return []
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            text = handle.read()
    except OSError:
        return []
    return launch_lines(text, path)


def repository_root(directory: str) -> str:
    """The git top level holding `directory`, else `directory` itself."""
    current = os.path.abspath(directory)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return os.path.abspath(directory)
        current = parent


def launch_dependence(config: Mapping[str, Any], name: str) -> str | None:
    """Why a file's meaning may depend on how it is launched (it looks like an overlay), or None.

    An SFT `[data]` with neither `name` nor `loss_mask` reads like an overlay's `seq_len = 8192`;
    an SFT-named config with no `[data]` at all (prime-rl's `configs/ci/slim_sft.toml`) gets its
    data from the launch (`--data @ data.toml`) or the trainer's default.
    """
    if "data" in config or "val" in config:
        for path, section in sft_sections(config):
            if "name" not in section and "loss_mask" not in section:
                return f"[{format_key(path)}] sets neither name nor loss_mask, like an overlay"
    if "data" in config or "sft" not in name:
        return None
    stem = os.path.splitext(os.path.basename(name))[0].lower()
    words = set(stem.replace("-", "_").split("_"))
    if "sft" in words and not {"orchestrator", "trainer", "inference"} & set(config):
        return "an SFT config with no [data] table: its data comes from the launch"
    return None


__all__ = [
    "ENTRYPOINTS",
    "LaunchLayer",
    "LaunchLine",
    "Unknown",
    "Word",
    "from_commands",
    "launch_dependence",
    "launch_in_words",
    "launch_lines",
    "read_launch_file",
    "repository_root",
]
