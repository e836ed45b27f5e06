"""What the reference trainer takes from a config, checked before any tensor exists.

The config is read by its reader (`lossmask.readers`: `--reader`, `[tool.lossmask] reader`, else
prime-rl main), which decides the mask rule and what absent keys mean. It is validated by the
schema (types, the strict `loss_mask`), then narrowed to the settings this trainer implements.
Every key the user set that the trainer does not implement is listed at start (never silently
ignored), and settings it cannot honour are rejected here, in TOML words, with the file, key and
line: a bad run should fail in a second, not after the model is allocated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lossmask.config_files.overrides import apply_overrides
from lossmask.errors import ConfigError, Problem
from lossmask.masks.engine.contract import MaskRule
from lossmask.reference_trainer.schedule import Schedule, read_schedule
from lossmask.schema.roles import LossMaskRolesConfig

if TYPE_CHECKING:
    from lossmask.data import DataSpec
    from lossmask.readers.registry import Reading

SYNTHETIC_DATA = "synthetic:weather"
"""`[data] name` of the embedded synthetic tool-calling conversations; also what no `name` means.
`"synthetic:weather-agent"` is the experiment's shape (`masks/assets/synthetic.py`)."""
DEFAULT_SYNTHETIC_EXAMPLES = 2048
# Held-out conversations come from the same generator under a seed no training pool uses.
HELD_OUT_SEED_OFFSET = 1_000_003

# Keys (dotted) the trainer implements; a listed key covers everything under it.
IMPLEMENTED_KEYS: frozenset[str] = frozenset(
    {
        "max_steps",
        "seed",
        "output_dir",
        "model.name",
        "model.fused_lm_head_token_chunk_size",
        "tokenizer.name",
        "tokenizer.stop_tokens",
        "renderer.name",
        "optim.lr",
        "optim.weight_decay",
        "optim.betas",
        "optim.max_norm",
        "optim.warmup_steps",
        "scheduler",
        "ckpt.interval",
        "ckpt.resume_step",
        "ckpt.keep_last",
        "ckpt.skip_optimizer",
        "val.interval",
    }
    | {
        f"{section}.{key}"
        for section in ("data", "val.data")
        for key in (
            "type",
            "name",
            "loss_mask",
            "content_roles",
            "seq_len",
            "batch_size",
            "micro_batch_size",
            "num_examples",
            "pack",
        )
    }
)


@dataclass(frozen=True)
class DataSettings:
    name: str  # SYNTHETIC_DATA, or the dataset's `name` (a local path or a cached hub id)
    # The mask rule of the config's reader (`lossmask.readers.rules`); a bare loss_mask when it
    # is lossmask's own contract.
    loss_mask: str | LossMaskRolesConfig | MaskRule
    seq_len: int
    batch_size: int
    micro_batch_size: int
    num_examples: int | None  # synthetic: pool size; a dataset: first N rows (None: all)
    pack: bool
    # What `lossmask.data` reads (name, subsets, splits, data_files); None for the synthetic data.
    spec: DataSpec | None = None

    @property
    def is_synthetic(self) -> bool:
        from lossmask.masks.assets.synthetic import SYNTHETIC_SOURCES

        return self.name in SYNTHETIC_SOURCES


@dataclass(frozen=True)
class TrainSettings:
    config_path: Path | None
    max_steps: int
    seed: int
    model_name: str | None
    tokenizer_name: str | None
    renderer_name: str | None
    data: DataSettings
    val_data: DataSettings | None
    val_interval: int | None
    lr: float
    weight_decay: float
    betas: tuple[float, float]
    max_norm: float
    warmup_steps: int  # `[optim] warmup_steps` as written (the schedule says what it means)
    checkpoint: bool  # a [ckpt] table is present: save at `ckpt_interval` and at the end
    ckpt_interval: int | None
    # prime-rl's `[ckpt] resume_step`: N resumes from checkpoints/step_N of the output directory,
    # -1 from the latest one there; `--resume DIR` names a checkpoint directory instead.
    resume_step: int | None
    resume_dir: Path | None
    output_dir: Path
    device: str  # "auto", "cpu", "cuda", "cuda:N"
    eval_examples: int
    max_new_tokens: int
    unimplemented: tuple[str, ...] = field(default=())
    stop_tokens: tuple[str, ...] | None = None  # `[tokenizer] stop_tokens`
    # Positions per LM-head chunk of the loss: an int, "auto" or "disabled" (loss.py resolves it).
    fused_lm_head_token_chunk_size: int | str = "auto"
    keep_last: int | None = None  # `[ckpt] keep_last`: keep the N latest checkpoints
    # `[ckpt] skip_optimizer`: checkpoints hold weights only, and a resume starts a fresh AdamW.
    skip_optimizer: bool = False
    data_parallel: str = "ddp"  # under torchrun: "ddp" or "fsdp2" (`--data-parallel`)
    # `[scheduler]` (prime-rl's), else `[optim] warmup_steps` then constant.
    schedule: Schedule = field(default_factory=lambda: Schedule("optim-warmup", 0))
    config_text: str | None = field(default=None, repr=False, compare=False)

    def problem(
        self,
        message: str,
        key: tuple[str, ...],
        suggestion: str | None = None,
        severity: Literal["error", "warning"] = "error",
    ) -> Problem:
        """A problem found after loading (data, model, renderer), located in this config."""
        file = str(self.config_path) if self.config_path else None
        line = _key_line(self.config_text, key)
        return Problem(message, key, file, line, suggestion, severity)

    def resolved(self) -> dict[str, Any]:
        """The settings as a TOML-ready dict: what this run actually used (saved beside outputs)."""

        def data_table(data: DataSettings) -> dict[str, Any]:
            table = asdict(data)
            rule = data.loss_mask
            mask = rule.loss_mask if isinstance(rule, MaskRule) else rule
            table["loss_mask"] = mask if isinstance(mask, str) else mask.model_dump()
            if isinstance(rule, MaskRule) and rule.content_roles:
                table["content_roles"] = sorted(rule.content_roles)
            return {key: value for key, value in table.items() if value is not None}

        out: dict[str, Any] = {"max_steps": self.max_steps, "seed": self.seed}
        out["output_dir"] = str(self.output_dir)
        out["model"] = {
            "name": self.model_name or "embedded:tiny-llama",
            "fused_lm_head_token_chunk_size": self.fused_lm_head_token_chunk_size,
        }
        out["tokenizer"] = {"name": self.tokenizer_name or "embedded:glm-4.5"}
        if self.renderer_name is not None:
            out["renderer"] = {"name": self.renderer_name}
        out["data"] = data_table(self.data)
        if self.val_data is not None:
            out["val"] = {"data": data_table(self.val_data)}
            if self.val_interval is not None:
                out["val"]["interval"] = self.val_interval
        out["optim"] = {
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "betas": list(self.betas),
            "max_norm": self.max_norm,
        }
        if self.schedule.table():
            out["scheduler"] = self.schedule.table()
        else:
            out["optim"]["warmup_steps"] = self.warmup_steps
        if self.checkpoint:
            out["ckpt"] = {} if self.ckpt_interval is None else {"interval": self.ckpt_interval}
            if self.resume_step is not None:
                out["ckpt"]["resume_step"] = self.resume_step
            if self.keep_last is not None:
                out["ckpt"]["keep_last"] = self.keep_last
            if self.skip_optimizer:
                out["ckpt"]["skip_optimizer"] = True
        return out


def _leaf_keys(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            yield from _leaf_keys(value, path)
        else:
            yield path


def unimplemented_keys(data: Mapping[str, Any]) -> list[str]:
    """Dotted keys the user set that this trainer does not act on."""
    found = []
    for path in _leaf_keys(data):
        prefixes = {".".join(path[:n]) for n in range(1, len(path) + 1)}
        if prefixes.isdisjoint(IMPLEMENTED_KEYS) and path != ("ckpt",):
            found.append(".".join(path))
    return found


def _key_line(text: str | None, key: tuple[str, ...]) -> int | None:
    """The line of `key` in the config, else of its closest enclosing key that is written."""
    if text is None:
        return None
    from lossmask.schema.locate import find_line

    path = key
    while path:
        line = find_line(text, path)
        if line is not None:
            return line
        path = path[:-1]
    return None


@dataclass
class _Problems:
    file: str | None
    text: str | None
    found: list[Problem] = field(default_factory=list)

    def add(self, message: str, key: tuple[str, ...], suggestion: str | None = None) -> None:
        self.found.append(Problem(message, key, self.file, _key_line(self.text, key), suggestion))


def _data_settings(
    table: Any,
    path: tuple[str, ...],
    world_size: int,
    problems: _Problems,
    raw: Mapping[str, Any] | None = None,
    reading: Reading | None = None,
) -> DataSettings:
    """`table` is the validated section, `raw` its parsed TOML; `reading` decides the mask rule,
    seq_len and dataset when keys are absent (prime-rl main's defaults are not lossmask's)."""
    from lossmask.masks.assets.synthetic import SYNTHETIC_SOURCES
    from lossmask.readers import prime_rl_main
    from lossmask.readers.registry import lossmask_reading
    from lossmask.readers.rules import mask_rule, truncation

    reading = reading or lossmask_reading()
    if table.type != "sft":
        problems.add(
            f'type = "{table.type}" is not supported: the reference trainer trains conversations',
            (*path, "type"),
            'use type = "sft" (or remove it) with a JSONL file of conversations',
        )
    name = table.name or (prime_rl_main.DEFAULT_DATASET if reading.is_main else SYNTHETIC_DATA)
    synthetic = name in SYNTHETIC_SOURCES
    spec = None
    if not synthetic:
        from lossmask.data import data_spec

        try:
            spec = data_spec(table, file=problems.file)
        except ConfigError as error:
            for problem in error.problems:
                key = (*path, *(str(part) for part in problem.key[1:]))
                problems.add(problem.message, key, problem.suggestion)
        if spec is not None:
            spec = replace(spec, name=str(Path(name).expanduser()))
    micro = table.micro_batch_size or table.batch_size
    if table.batch_size % (micro * world_size):
        problems.add(
            f"batch_size ({table.batch_size}) must be a multiple of micro_batch_size ({micro}) "
            f"times the number of processes ({world_size})",
            (*path, "batch_size"),
            "every process must run the same number of micro-batches per step",
        )
    num_examples = table.num_examples
    return DataSettings(
        name=name if synthetic else str(Path(name).expanduser()),
        loss_mask=_plain(mask_rule(raw, reading)),
        seq_len=truncation(raw, reading, default=table.seq_len),
        batch_size=table.batch_size,
        micro_batch_size=micro,
        num_examples=num_examples or DEFAULT_SYNTHETIC_EXAMPLES if synthetic else num_examples,
        pack=table.pack,
        spec=spec,
    )


def _plain(rule: MaskRule) -> str | LossMaskRolesConfig | MaskRule:
    """A rule that is lossmask's own contract, as the bare loss_mask it is."""
    return rule.loss_mask if rule == MaskRule(rule.loss_mask) else rule


def _check_device(device: str, problems: _Problems) -> None:
    if device in ("auto", "cpu"):
        return
    if device == "cuda" or device.startswith("cuda:"):
        import torch

        if not torch.cuda.is_available():
            problems.add(f"--device {device}: CUDA is not available here", (), "use --device cpu")
        return
    problems.add(f"--device {device!r}: expected auto, cpu, cuda or cuda:N", ())


def load_settings(
    config_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    device: str = "auto",
    output_dir: str | Path | None = None,
    eval_examples: int = 60,
    max_new_tokens: int = 160,
    world_size: int = 1,
    resume: str | Path | None = None,
    reader: str | None = None,
    data_parallel: str = "ddp",
) -> tuple[TrainSettings, list[Problem]]:
    """Read, override, validate and narrow a v2 config. Returns `(settings, warnings)`.

    `world_size` is the number of training processes; `resume` is `--resume DIR` (it wins over
    `[ckpt] resume_step`). Raises `ConfigError` carrying every problem found.
    """
    from lossmask.masks.app.setup import reading_for
    from lossmask.readers import prime_rl_main
    from lossmask.readers.meanings import renderer_meaning
    from lossmask.schema import read_toml, validate_data

    file = str(config_path)
    reading = reading_for(config_path, reader)
    raw, text = read_toml(config_path)
    data = apply_overrides(raw, overrides)
    config, warnings = validate_data(data, file=file, text=text, reading=reading)
    problems = _Problems(file, text)

    if config.max_steps is None:
        problems.add("is required by the reference trainer", ("max_steps",), "e.g. max_steps = 300")
    train_data = _data_settings(
        config.data, ("data",), world_size, problems, _table(data, ("data",)), reading
    )
    val_data = None
    val_interval = None
    if config.val is not None:
        val_interval = config.val.interval
        if config.val.data is not None:
            val_data = _data_settings(
                config.val.data,
                ("val", "data"),
                1,
                problems,
                _table(data, ("val", "data")),
                reading,
            )
        elif val_interval is not None:
            problems.add("is set but [val.data] is missing", ("val", "interval"))
    _check_device(device, problems)
    schedule = read_schedule(
        _table(data, ("scheduler",)),
        config.optim.warmup_steps,
        config.max_steps,
        problems.add,
    )
    ckpt = config.ckpt
    resume_step = _resume_step(ckpt, config.max_steps, problems)
    if problems.found:
        raise ConfigError(problems.found)

    out_dir = output_dir or config.output_dir or Path("runs") / Path(config_path).stem
    settings = TrainSettings(
        config_path=Path(config_path),
        max_steps=config.max_steps,
        seed=config.seed,
        model_name=config.model.name or (prime_rl_main.DEFAULT_MODEL if reading.is_main else None),
        tokenizer_name=config.tokenizer.name,
        renderer_name=renderer_meaning(data, reading),
        stop_tokens=tuple(config.tokenizer.stop_tokens or ()) or None,
        data=train_data,
        val_data=val_data,
        val_interval=val_interval,
        lr=config.optim.lr,
        weight_decay=config.optim.weight_decay,
        betas=(config.optim.betas[0], config.optim.betas[1]),
        max_norm=config.optim.max_norm,
        warmup_steps=config.optim.warmup_steps,
        checkpoint=ckpt is not None,
        ckpt_interval=ckpt.interval if ckpt is not None else None,
        resume_step=resume_step,
        resume_dir=Path(resume).expanduser() if resume is not None else None,
        output_dir=Path(out_dir),
        device=device,
        eval_examples=eval_examples,
        max_new_tokens=max_new_tokens,
        unimplemented=tuple(unimplemented_keys(data)),
        fused_lm_head_token_chunk_size=config.model.fused_lm_head_token_chunk_size or "auto",
        keep_last=ckpt.keep_last if ckpt is not None else None,
        skip_optimizer=bool(ckpt.skip_optimizer) if ckpt is not None else False,
        data_parallel=data_parallel,
        schedule=schedule,
        config_text=text,
    )
    return settings, warnings


def _table(data: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any] | None:
    from lossmask.schema.sections import table_at

    node = table_at(data, path)
    return node if isinstance(node, Mapping) else None


def _resume_step(ckpt: Any, max_steps: int | None, problems: _Problems) -> int | None:
    """`[ckpt] resume_step` as prime-rl spells it: a step N >= 1, or -1 for the latest."""
    value = ckpt.resume_step if ckpt is not None else None
    if value is None:
        return None
    key = ("ckpt", "resume_step")
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < -1:
        problems.add(
            f"must be a step number >= 1, or -1 for the latest checkpoint, not {value!r}", key
        )
        return None
    if max_steps is not None and value >= max_steps:
        problems.add(
            f"{value} leaves nothing to train: max_steps is {max_steps}",
            key,
            f"raise max_steps above {value} to train on from step {value}",
        )
        return None
    return value
