"""The evidence of how configs are launched: `@ path.toml` sequences in the tree being migrated.

prime-rl composes a run from files given as `uv run sft @ base.toml @ overlay.toml` (and
`--data @ data.toml` for a fragment). Those words are written down in the repository: in shell
scripts, Makefiles, CI workflows (YAML), Markdown, and TOML comments (prime-rl heads files with
`# Compose: uv run sft @ a.toml @ b.toml`). Each such line is a stack; its paths are resolved as
the launch would resolve them, from the repository root, falling back to the directory of the
file that holds the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lossmask.config_files.stacks import KeyPath, Layer
from lossmask.errors import format_key
from lossmask.schema.sections import sft_sections

# prime-rl's entrypoints; the last one named before the layers is the launch's command.
ENTRYPOINTS = ("sft", "rl", "trainer", "orchestrator", "inference", "eval")

# `@ path.toml`, `@path.toml` or `--data @ path.toml`, where `@` starts a word.
_LAYER = re.compile(r"(?:(--[A-Za-z0-9_][A-Za-z0-9_.-]*)\s+)?(?<!\S)@\s*([^\s'\"`;|&()<>]+\.toml)")
_SEPARATOR = re.compile(r"&&|\|\||[;|]")
# Files larger than this are not searched (a data dump, not a script).
MAX_LAUNCH_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LaunchLine:
    """One launch written in a file: where, with which entrypoint, and the layers as written."""

    file: str
    line: int
    command: str | None
    layers: tuple[Layer, ...]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _logical_lines(text: str, comments_only: bool) -> Iterable[tuple[int, str]]:
    """(first line number, text) of each line, shell continuations (`\\`) joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if comments_only:
            stripped = raw.lstrip()
            if not stripped.startswith("#"):
                if pending:
                    yield start, " ".join(pending)
                    pending = []
                continue
            line = stripped.lstrip("#")
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def _command(before: str) -> str | None:
    words = before.replace("`", " ").split()
    for word in reversed(words):
        if word in ENTRYPOINTS:
            return word
    plain = [word for word in words if not word.startswith("-") and "=" not in word]
    return plain[-1] if plain else None


def launch_lines(text: str, file: str, *, comments_only: bool) -> list[LaunchLine]:
    """Every launch written in `text` (only its comment lines for a TOML file)."""
    if "@" not in text:
        return []
    found: list[LaunchLine] = []
    for number, line in _logical_lines(text, comments_only):
        if "@" not in line:
            continue
        for segment in _SEPARATOR.split(line):
            matches = list(_LAYER.finditer(segment))
            if not matches:
                continue
            layers = tuple(Layer(match.group(2), _nesting(match.group(1))) for match in matches)
            command = _command(segment[: matches[0].start()])
            found.append(LaunchLine(file, number, command, layers))
    return found


def _nesting(option: str | None) -> KeyPath:
    return tuple(option[2:].split(".")) if option else ()


def read_launch_file(path: str) -> list[LaunchLine]:
    """The launches written in one script or document; an unreadable one holds none."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_LAUNCH_FILE_BYTES:
            return []
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return []
    return launch_lines(text, path, comments_only=False)


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


def resolve(written: str, holder: str, root: str) -> str | None:
    """The file a launch means by `written`: from the repository root, else beside the holder."""
    if os.path.isabs(written):
        return written if os.path.isfile(written) else None
    for base in (root, os.path.dirname(os.path.abspath(holder))):
        candidate = os.path.normpath(os.path.join(base, written))
        if os.path.isfile(candidate):
            return candidate
    return None


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
