"""What `show` and `audit` read from a v2 config: mask, `seq_len`, tokenizer and renderer."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

from lossmask.masks.engine.backends import MaskBackend, load_backend
from lossmask.masks.engine.contract import MODES
from lossmask.masks.engine.sample import MaskError
from lossmask.schema.roles import LossMaskRolesConfig, describe_loss_mask

MODE_CHOICES = (*MODES, "legacy")
"""`--mode` values: the two v2 modes, and `legacy` for the v1 default role table."""


@dataclass(frozen=True)
class MaskSettings:
    """The part of a config that decides which tokens train."""

    label: str
    loss_mask: str | LossMaskRolesConfig
    seq_len: int | None
    tokenizer: str | None  # None: the embedded tokenizer
    renderer: str | None  # None: the chat-template path
    data: str | None = None

    @property
    def description(self) -> str:
        path = f"renderer {self.renderer}" if self.renderer else "chat template"
        tokenizer = self.tokenizer or "embedded"
        return f"{describe_loss_mask(self.loss_mask)} on {path} ({tokenizer} tokenizer)"

    def with_mode(self, mode: str) -> MaskSettings:
        """The same settings with another mask, for `show --mode`."""
        if mode not in MODE_CHOICES:
            raise MaskError(f"unknown mode {mode!r}; choose from {', '.join(MODE_CHOICES)}")
        loss_mask: str | LossMaskRolesConfig = LossMaskRolesConfig() if mode == "legacy" else mode
        return replace(self, label=f"--mode {mode}", loss_mask=loss_mask)


def settings_from_config(path: str | Path) -> MaskSettings:
    """Read a v2 config; raises `ConfigError` (file, key, line) when it is invalid."""
    from lossmask.schema import load_config

    config = load_config(path, version=2)
    renderer = config.renderer.name if config.renderer is not None else None
    tokenizer = config.tokenizer.name or config.model.name
    return MaskSettings(
        label=str(path),
        loss_mask=config.data.loss_mask,
        seq_len=config.data.seq_len,
        tokenizer=tokenizer,
        renderer=renderer,
        data=config.data.name,
    )


@functools.cache
def _backend(tokenizer: str | None, renderer: str | None) -> MaskBackend:
    return load_backend(tokenizer=tokenizer, renderer=renderer)


def backend_for(settings: MaskSettings) -> MaskBackend:
    """One backend per (tokenizer, renderer) per process."""
    return _backend(settings.tokenizer, settings.renderer)


def data_path(settings: MaskSettings, data: str | None) -> Path:
    """`--data`, else the config's `data.name` when it is a local file."""
    if data is not None:
        return Path(data)
    if settings.data and Path(settings.data).is_file():
        return Path(settings.data)
    raise MaskError(
        f"no data to read: pass --data FILE.jsonl (the config's data.name {settings.data!r} is not "
        "a local file)"
    )
