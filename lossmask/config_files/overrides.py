"""`--set KEY=VALUE` overrides of a config, shared by `train`, `experiment`, `show` and `audit`."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

from lossmask.errors import ConfigError


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """`data.seq_len=512` -> (("data", "seq_len"), 512). Values are TOML; bare words are strings."""
    key, sep, raw = text.partition("=")
    path = tuple(part.strip() for part in key.strip().split("."))
    if not sep or not all(path):
        raise ConfigError.single(
            f"--set {text!r}: expected KEY=VALUE", suggestion="e.g. --set data.seq_len=512"
        )
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # `--set model.name=/models/x` should not need TOML quoting
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `--set` overrides to parsed TOML (a new dict; the input is left as it was)."""
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError.single(
                    f"--set {text!r}: {where} is a value, not a table",
                    suggestion=f"set {where} itself, e.g. --set '{where}={{...}}'",
                )
            node = child
        node[path[-1]] = value
    return out
