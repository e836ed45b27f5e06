"""Config -> mask setup: the one place `show`, `audit` and `train` turn names into a backend.

The rule for which tokenizer to load (prime-rl's): `[tokenizer] name`, else `[model] name` unless
that names an embedded model (`embedded:tiny-llama` is a model, not a tokenizer), else the embedded
tokenizer of the renderer's family. `generation_config.json` (the serving stops) is looked for in
the tokenizer's directory, then the model's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lossmask.errors import Problem
from lossmask.masks.engine.backends import EMBEDDED_PREFIX, MaskBackend, load_backend
from lossmask.masks.engine.contract import MODES
from lossmask.masks.engine.sample import MaskError
from lossmask.schema.roles import LossMaskRolesConfig, describe_loss_mask

MODE_CHOICES = (*MODES, "legacy")
"""`--mode` values: the v2 modes, and `legacy` for the v1 default role table."""


def tokenizer_to_load(tokenizer: str | None, model: str | None) -> str | None:
    """The tokenizer a config means (see the module doc); None is the embedded default."""
    if tokenizer is not None:
        return tokenizer
    if model is not None and not model.startswith(EMBEDDED_PREFIX):
        return model
    return None


def renderer_family_tokenizer(renderer: str | None) -> str | None:
    """`embedded:<renderer>` for a renderer family lossmask carries a tokenizer for (every
    renderer `renderers` registers, `lossmask.masks.assets.families`); None otherwise."""
    from lossmask.masks.assets.families import FAMILY_SPECIAL_TOKENS

    if renderer is not None and renderer in FAMILY_SPECIAL_TOKENS:
        return f"{EMBEDDED_PREFIX}:{renderer}"
    return None


@functools.cache
def mask_backend(*, tokenizer: str | None, model: str | None, renderer: str | None) -> MaskBackend:
    """THE backend for a config's `[tokenizer]`, `[model]` and `[renderer]` names, built once per
    process. Raises `MaskError` when it cannot be built.

    With a renderer and no tokenizer, the renderer runs on its family's embedded tokenizer; when
    that cannot run it (gpt-oss loads its encoding from the network), one line says what to set."""
    model_dir = model if model is not None and not model.startswith(EMBEDDED_PREFIX) else None
    chosen = tokenizer_to_load(tokenizer, model)
    family = renderer_family_tokenizer(renderer) if chosen is None else None
    try:
        return load_backend(tokenizer=chosen or family, renderer=renderer, model=model_dir)
    except MaskError as error:
        if family is None:
            raise
        raise MaskError(
            f'[renderer] name = "{renderer}" runs on the embedded {renderer} tokenizer when no '
            f"tokenizer is named, and that failed ({str(error).splitlines()[0]}); set "
            "[tokenizer] name to the model's tokenizer (a local directory or a hub id)"
        ) from None


@dataclass(frozen=True)
class MaskSetup:
    """The part of a config that decides which tokens train."""

    label: str
    loss_mask: str | LossMaskRolesConfig
    seq_len: int | None
    tokenizer: str | None
    model: str | None
    renderer: str | None  # None: the chat-template path
    data: str | None = None
    data_spec: Any = None  # lossmask.data.DataSpec of the config's [data], if it names a dataset
    warnings: tuple[Problem, ...] = ()  # what validating the config found (unknown keys, ...)

    @property
    def description(self) -> str:
        path = f"renderer {self.renderer}" if self.renderer else "chat template"
        tokenizer = tokenizer_to_load(self.tokenizer, self.model) or "embedded"
        return f"{describe_loss_mask(self.loss_mask)} on {path} ({tokenizer} tokenizer)"

    def backend(self) -> MaskBackend:
        return mask_backend(tokenizer=self.tokenizer, model=self.model, renderer=self.renderer)

    def with_mode(self, mode: str) -> MaskSetup:
        """The same setup with another mask, for `show --mode`."""
        if mode not in MODE_CHOICES:
            raise MaskError(f"unknown mode {mode!r}; choose from {', '.join(MODE_CHOICES)}")
        loss_mask: str | LossMaskRolesConfig = LossMaskRolesConfig() if mode == "legacy" else mode
        return replace(self, label=f"--mode {mode}", loss_mask=loss_mask)

    def data_source(self, data: str | None) -> Any:
        """What to read: `--data SOURCE`, else the config's `[data]` (`name`, `subsets`,
        `splits`, `data_files`), opened with `lossmask.data`. Raises `MaskError` when neither
        names a dataset, `DataError` when nothing can be read."""
        from lossmask.data import DataSpec
        from lossmask.masks.app.conversations import open_data_source

        spec = DataSpec(data) if data is not None else self.data_spec
        if spec is None:
            raise MaskError("no data to read: pass --data SOURCE, or set data.name in the config")
        return open_data_source(spec)


def mask_setup_from_config(path: str | Path, overrides: Sequence[str] = ()) -> MaskSetup:
    """Read a v2 config, with `--set KEY=VALUE` overrides; raises `ConfigError` (file, key, line)
    when it is invalid. Its warnings come back in `MaskSetup.warnings`, as Problem lines."""
    from lossmask.config_files.overrides import apply_overrides
    from lossmask.data import data_spec
    from lossmask.schema.validation import read_toml, validate_data

    raw, text = read_toml(path)
    data = apply_overrides(raw, overrides) if overrides else raw
    config, found = validate_data(data, version=2, file=str(path), text=text)
    return MaskSetup(
        label=str(path),
        loss_mask=config.data.loss_mask,
        seq_len=config.data.seq_len,
        tokenizer=config.tokenizer.name,
        model=config.model.name,
        renderer=config.renderer.name if config.renderer is not None else None,
        data=config.data.name,
        data_spec=data_spec(config.data, file=str(path)),
        warnings=tuple(found),
    )
