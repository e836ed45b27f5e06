"""Config -> mask backend -> conversations -> training samples, before any tensor exists.

`prepare_data` is the one call the loop makes. Every way it can fail is a `ConfigError` in TOML
words: the renderer or tokenizer (`renderer.name: unknown renderer 'glm45' (did you mean
"glm-4.5"?)`), each bad row (`data.jsonl:7: data: row 6: messages[1]: role 'robot' is not one of
...`, every bad row listed, none trained), an empty file, and a dataset with nothing to train, told
apart from a `seq_len` shorter than every prompt. Where conversations come from is
`read_conversations`, alone, so another reader can take its place.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmask.errors import ConfigError, Problem
from lossmask.reference_trainer.settings import HELD_OUT_SEED_OFFSET, DataSettings, TrainSettings

Log = Callable[[str], None]
MAX_ROW_PROBLEMS = 20  # then "... and N more rows"; a broken file should not scroll for pages


@dataclass(frozen=True)
class Row:
    """One conversation and where it came from (`index` counts rows from 0, as `datasets` does)."""

    index: int
    conversation: dict[str, Any]
    file: str | None = None
    line: int | None = None
    # Why the reader could not make this row a conversation (then `conversation` is empty).
    error: str | None = None


@dataclass(frozen=True)
class RowProblem(Problem):
    """A bad dataset row: `file:line: data: row N: message`, or `data: row N: message`."""

    def format(self) -> str:
        if self.file is not None:
            return super().format()
        return f"{self.key_text}: {self.message}"


def row_problem(row: Row, key: tuple[str, ...], message: str) -> RowProblem:
    return RowProblem(f"row {row.index}: {message}", key, row.file, row.line)


@dataclass
class PreparedData:
    backend: Any  # lossmask.masks.MaskBackend
    samples: list[Any]  # lossmask.masks.TrainingSample
    stats: Any  # lossmask.masks.BuildStats
    val_samples: list[Any] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def read_conversations(data: DataSettings, seed: int) -> list[Row]:
    """THE trainer's conversation source: the synthetic generator, or the first rows of a dataset
    read by `lossmask.data` (the reader `show` and `audit` use).

    A source that cannot be read raises `ConfigError`; a bad row comes back with its `error`.
    """
    from lossmask.data import DataError, DataRowError, iter_conversations, open_source
    from lossmask.masks.assets.synthetic import SYNTHETIC_SOURCES

    if data.is_synthetic or data.spec is None:
        assert data.num_examples is not None  # settings always give the synthetic pool a size
        generated = SYNTHETIC_SOURCES[data.name](data.num_examples, seed)
        return [Row(index, conversation) for index, conversation in enumerate(generated)]
    try:
        source = open_source(data.spec)
    except DataError as error:
        raise ConfigError([part.to_problem() for part in error.errors]) from None
    if source.problems:
        raise ConfigError([part.to_problem() for part in source.problems])
    count = len(source) if data.num_examples is None else min(data.num_examples, len(source))
    rows = []
    for item in iter_conversations(source, range(count)):
        if isinstance(item, DataRowError):
            message = (f"{item.key}: " if item.key else "") + item.message
            if item.suggestion:
                message += f" ({item.suggestion})"
            rows.append(Row(item.ref.row, {}, item.ref.source, item.ref.line, error=message))
        else:
            rows.append(Row(item.ref.row, item.conversation, item.ref.source, item.ref.line))
    return rows


def held_out_conversations(settings: TrainSettings) -> list[dict[str, Any]] | None:
    """Stop-eval prompts: the synthetic generator under an unused seed, else the val data."""
    from lossmask.masks.assets.synthetic import SYNTHETIC_SOURCES

    if settings.eval_examples <= 0:
        return None
    seed = settings.seed + HELD_OUT_SEED_OFFSET
    if settings.data.is_synthetic:
        return SYNTHETIC_SOURCES[settings.data.name](settings.eval_examples, seed)
    if settings.val_data is not None:
        rows = read_conversations(settings.val_data, seed)
        return [row.conversation for row in rows[: settings.eval_examples]]
    return None


def content_problem(conversation: dict[str, Any]) -> str | None:
    """Content that is a number, boolean or object: rejected, never trained as its Python repr.

    Strings, null (read as "") and lists of content parts go on to the renderer or template.
    """
    messages = conversation.get("messages")
    if not isinstance(messages, list):
        return None  # the mask engine says what a conversation needs
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if content is None or isinstance(content, str | list):
            continue
        kind = "an object" if isinstance(content, dict) else "a number"
        if isinstance(content, bool):
            kind = "a boolean"
        text = json.dumps(content, ensure_ascii=False)
        shown = text if len(text) <= 40 else text[:37] + "..."
        return (
            f"messages[{index}].content is {kind} ({shown}), not a string; "
            "write the text as a JSON string"
        )
    return None


def _renderer_problem(settings: TrainSettings) -> Problem | None:
    name = settings.renderer_name
    if name is None or name == "auto":
        return None
    from renderers.base import RENDERER_REGISTRY, _populate_registry

    _populate_registry()
    known = sorted(RENDERER_REGISTRY)
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    suggestion = (
        f'did you mean "{close[0]}"?' if close else 'use "auto" or one of ' + ", ".join(known)
    )
    return settings.problem(f"unknown renderer {name!r}", ("renderer", "name"), suggestion)


def load_mask_backend(settings: TrainSettings, model_path: Path | None) -> Any:
    """The renderer or chat-template backend, built by the one function `show` and `audit` use;
    the tokenizer defaults to the model's (prime-rl's rule)."""
    from lossmask.masks import MaskError
    from lossmask.masks.app.setup import mask_backend

    renderer = _renderer_problem(settings)
    if renderer is not None:
        raise ConfigError([renderer])
    key = ("tokenizer", "name")
    if settings.tokenizer_name is None and model_path is not None:
        key = ("model", "name")
    model = str(model_path) if model_path is not None else settings.model_name
    try:
        backend = mask_backend(
            tokenizer=settings.tokenizer_name,
            model=model,
            renderer=settings.renderer_name,
            stop_tokens=settings.stop_tokens,
        )
    except MaskError as error:
        message = str(error)
        if message.startswith("renderer"):
            key = ("renderer", "name")
        raise ConfigError([settings.problem(message, key)]) from None
    stop_warning = getattr(backend, "stop_warning", None)
    if stop_warning:  # a run that would not learn its stops: refused until they are named
        raise ConfigError([settings.problem(stop_warning, ("tokenizer", "stop_tokens"))])
    return backend


def _first_trained_position(sample: Any) -> int | None:
    return next((i for i, trained in enumerate(sample.loss_mask) if trained), None)


def _nothing_to_train(settings: TrainSettings, rows: list[Row], backend: Any) -> Problem:
    """Why no sample trains a token: no rows, a short seq_len, or a mask that trains nothing."""
    from lossmask.masks import build_sample, coerce_loss_mask

    data = settings.data
    if not rows:
        return settings.problem(f"{data.name} has no rows", ("data", "name"))
    setting = coerce_loss_mask(data.loss_mask)
    # Samples at any length: the tokens before the first trained one are the prompt. Only built
    # on this failure path, so a run that trains never pays for it.
    prompts = []
    for row in rows:
        position = _first_trained_position(build_sample(row.conversation, setting, backend))
        if position is not None:
            prompts.append(position + 1)
    if prompts:
        shortest = min(prompts)
        return settings.problem(
            f"{data.seq_len} is shorter than every prompt (shortest: {shortest} tokens before "
            "its first trained token)",
            ("data", "seq_len"),
            f"raise seq_len to at least {shortest}",
        )
    return settings.problem(
        f"no sample has a trained token in {len(rows)} rows",
        ("data", "loss_mask"),
        "check that the mask enables a role these conversations have",
    )


def build_training_samples(
    rows: list[Row], data: DataSettings, backend: Any, key: tuple[str, ...]
) -> tuple[list[Any], Any]:
    """Samples with something to train, and their counts. Every bad row is a problem."""
    from lossmask.masks import BuildStats, MaskError, build_sample, coerce_loss_mask

    setting = coerce_loss_mask(data.loss_mask)
    samples: list[Any] = []
    stats = BuildStats()
    problems: list[Problem] = []
    for row in rows:
        try:
            if row.error is not None:
                raise MaskError(row.error)
            content = content_problem(row.conversation)
            if content is not None:
                raise MaskError(content)
            sample = build_sample(row.conversation, setting, backend, data.seq_len)
        except MaskError as error:
            problems.append(row_problem(row, key, str(error)))
            continue
        if stats.record(row.conversation, sample):
            samples.append(sample)
    if problems:
        shown = problems[:MAX_ROW_PROBLEMS]
        if len(problems) > MAX_ROW_PROBLEMS:
            more = len(problems) - MAX_ROW_PROBLEMS
            shown.append(RowProblem(f"... and {more} more bad rows", key))
        raise ConfigError(shown)
    stats.finish(setting)
    return samples, stats


def prepare_data(settings: TrainSettings, backend: Any, log: Log) -> PreparedData:
    """Training (and validation) samples for `settings`; raises ConfigError, located."""
    rows = read_conversations(settings.data, settings.seed)
    samples, stats = build_training_samples(rows, settings.data, backend, ("data",))
    if not samples:
        raise ConfigError([_nothing_to_train(settings, rows, backend)])
    warnings = [
        settings.problem(warning, ("data", "loss_mask"), severity="warning")
        for warning in stats.warnings
    ]
    val_samples: list[Any] = []
    if settings.val_data is not None:
        val_rows = read_conversations(settings.val_data, settings.seed + HELD_OUT_SEED_OFFSET)
        val_samples, _ = build_training_samples(
            val_rows, settings.val_data, backend, ("val", "data")
        )
    log(
        f"data: {stats.samples} samples from {len(rows)} conversations "
        f"({stats.skipped_nothing_to_train} skipped with nothing to train, {stats.truncated} cut "
        f"at seq_len={settings.data.seq_len}); mask backend {backend.name}"
    )
    return PreparedData(backend, samples, stats, val_samples, warnings)
