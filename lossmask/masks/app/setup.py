"""Config -> mask setup: the one place `show`, `audit` and `train` turn a config into a run's mask.

A config is read by a *reader* (`lossmask.readers`): the `--reader` given, else `[tool.lossmask]
reader` of the `pyproject.toml` above the config, else prime-rl main. The reader decides what the
config is allowed to say, which mask rule each data section trains with (`readers/rules.py`), and
what absent keys mean (prime-rl main: model `Qwen/Qwen3-0.6B`, the renderer registered for the
model, `seq_len = 128`; lossmask's schema: the embedded model, the chat template, 2048).

The rule for which tokenizer to load (prime-rl's): `[tokenizer] name`, else `[model] name` unless
that names an embedded model (`embedded:tiny-llama` is a model, not a tokenizer), else the embedded
tokenizer of the renderer's family. A hub id is read from the local Hugging Face cache.
`generation_config.json` (the serving stops) is looked for for the tokenizer, then the model (a
directory, or a hub id in the cache); `[tokenizer] stop_tokens` names the stops instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lossmask.errors import ConfigError, Problem
from lossmask.masks.engine.backends import EMBEDDED_PREFIX, MaskBackend, load_backend
from lossmask.masks.engine.contract import MODES, MaskRule
from lossmask.masks.engine.sample import MaskError
from lossmask.readers.registry import ReaderChoiceError, Reading, choose_reading
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
def mask_backend(
    *,
    tokenizer: str | None,
    model: str | None,
    renderer: str | None,
    stop_tokens: tuple[str, ...] | None = None,
) -> MaskBackend:
    """THE backend for a config's `[tokenizer]`, `[model]` and `[renderer]` names (and
    `[tokenizer] stop_tokens`), built once per process. Raises `MaskError` when it cannot be
    built.

    With a renderer and no tokenizer, the renderer runs on its family's embedded tokenizer; when
    that cannot run it (gpt-oss loads its encoding from the network), one line says what to set."""
    model_dir = model if model is not None and not model.startswith(EMBEDDED_PREFIX) else None
    chosen = tokenizer_to_load(tokenizer, model)
    family = renderer_family_tokenizer(renderer) if chosen is None else None
    try:
        return load_backend(
            tokenizer=chosen or family, renderer=renderer, model=model_dir, stop_tokens=stop_tokens
        )
    except MaskError as error:
        if family is None:
            raise
        raise MaskError(
            f'[renderer] name = "{renderer}" runs on the embedded {renderer} tokenizer when no '
            f"tokenizer is named, and that failed ({str(error).splitlines()[0]}); set "
            "[tokenizer] name to the model's tokenizer (a local directory or a hub id)"
        ) from None


def stop_problem(backend: MaskBackend, label: str | None) -> Problem | None:
    """The loud warning of a backend whose only serving stop is EOS while its template closes
    turns with other tokens (`backends.py`); None when its stops are known."""
    warning = getattr(backend, "stop_warning", None)
    if not warning:
        return None
    return Problem(warning, ("tokenizer", "stop_tokens"), file=label, severity="warning")


def reading_for(path: str | Path, reader: str | None = None) -> Reading:
    """The reading a config is read with: `reader` (a `--reader` name), else `[tool.lossmask]` of
    the `pyproject.toml` above it, else the default. Raises `ConfigError` for a bad setting."""
    from lossmask.config_files.selection import discover_project_settings

    project = discover_project_settings([path])
    try:
        return choose_reading(
            reader, project_reader=project.reader, project_version=project.schema_version
        )
    except ReaderChoiceError as error:
        raise ConfigError.single(str(error), file=str(project.path or path)) from None


@dataclass(frozen=True)
class MaskSetup:
    """The part of a config that decides which tokens train."""

    label: str
    loss_mask: str | LossMaskRolesConfig | MaskRule
    """The mask rule (`MaskRule`), or a bare `loss_mask` for lossmask's own contract."""
    seq_len: int | None
    """Where a sample is cut (prime-rl main: `seq_len * micro_batch_size`, its packer's bin)."""
    tokenizer: str | None
    model: str | None
    renderer: str | None  # None: the chat-template path
    data: str | None = None
    data_spec: Any = None  # lossmask.data.DataSpec of the config's [data], if it names a dataset
    warnings: tuple[Problem, ...] = ()  # what validating the config found (unknown keys, ...)
    reading: Reading | None = None  # None: lossmask's schema (a setup built without a config)
    stop_tokens: tuple[str, ...] | None = None  # `[tokenizer] stop_tokens`

    @property
    def description(self) -> str:
        path = f"renderer {self.renderer}" if self.renderer else "chat template"
        tokenizer = tokenizer_to_load(self.tokenizer, self.model) or "embedded"
        return f"{describe_loss_mask(self.loss_mask)} on {path} ({tokenizer} tokenizer)"

    def backend(self) -> MaskBackend:
        return mask_backend(
            tokenizer=self.tokenizer,
            model=self.model,
            renderer=self.renderer,
            stop_tokens=self.stop_tokens,
        )

    def backend_problems(self) -> list[Problem]:
        """What to say about the backend this setup builds (a serving stop it cannot find)."""
        found = stop_problem(self.backend(), self.label)
        return [found] if found is not None else []

    def with_mode(self, mode: str) -> MaskSetup:
        """The same setup with another mask, for `show --mode` (the reader's trainer applies it)."""
        if mode not in MODE_CHOICES:
            raise MaskError(f"unknown mode {mode!r}; choose from {', '.join(MODE_CHOICES)}")
        loss_mask: str | LossMaskRolesConfig = LossMaskRolesConfig() if mode == "legacy" else mode
        if isinstance(self.loss_mask, MaskRule):
            rule = replace(self.loss_mask, loss_mask=loss_mask, content_roles=frozenset())
            return replace(self, label=f"--mode {mode}", loss_mask=rule)
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


def mask_setup_from_config(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    reader: str | None = None,
    reading: Reading | None = None,
) -> MaskSetup:
    """Read a config as its reader reads it (`reading`, else `reader_for(path, reader)`), with
    `--set KEY=VALUE` overrides; raises `ConfigError` (file, key, line) when it is invalid or
    the reader refuses it. Its warnings come back in `MaskSetup.warnings`, as Problem lines."""
    from lossmask.config_files.overrides import apply_overrides
    from lossmask.data import DataSpec, data_spec
    from lossmask.readers import prime_rl_main
    from lossmask.readers.meanings import renderer_meaning
    from lossmask.readers.rules import mask_rule, truncation
    from lossmask.schema.sections import table_at
    from lossmask.schema.validation import read_toml, validate_data

    reading = reading or reading_for(path, reader)
    raw, text = read_toml(path)
    data = apply_overrides(raw, overrides) if overrides else raw
    config, found = validate_data(data, file=str(path), text=text, reading=reading)
    section = table_at(data, ("data",))
    section = section if isinstance(section, Mapping) else None
    rule = mask_rule(section, reading)
    model = config.model.name
    spec = data_spec(config.data, file=str(path))
    if reading.is_main:
        model = model or prime_rl_main.DEFAULT_MODEL
        if spec is None:
            spec = DataSpec(prime_rl_main.DEFAULT_DATASET)
    stops = config.tokenizer.stop_tokens
    return MaskSetup(
        label=str(path),
        # lossmask's own reading of a plain loss_mask stays a bare loss_mask (the same contract).
        loss_mask=rule if rule != MaskRule(rule.loss_mask) else rule.loss_mask,
        seq_len=truncation(section, reading, default=config.data.seq_len),
        tokenizer=config.tokenizer.name,
        model=model,
        renderer=renderer_meaning(data, reading),
        data=config.data.name,
        data_spec=spec,
        warnings=tuple(found),
        reading=reading,
        stop_tokens=tuple(stops) if stops else None,
    )
