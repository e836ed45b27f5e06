"""The learning-rate schedule: `[optim] warmup_steps`, or prime-rl's `[scheduler]` table.

`[scheduler]` reads as prime-rl reads it (`type = "constant" | "linear" | "cosine"`, with its
defaults `warmup_steps = 10`, `decay_steps = 10`, `min_lr = 0.0`) and follows the same curves:
warmup rises linearly from `min_lr` (or ~0) to `lr` (torch's `LinearLR` from
`start_factor = min_lr / lr`); "linear" then holds `lr` and falls linearly to `min_lr` over the
last `decay_steps` steps; "cosine" anneals from `lr` to `min_lr` over every step after warmup
(`CosineAnnealingLR`, `T_max = max_steps - warmup_steps`). A decaying schedule matters for the
experiment: at a constant rate the last step's weights are as noisy as any step's, so a figure
measured on them moves with the seed more than the mask.

Without `[scheduler]`, `[optim] warmup_steps` keeps the trainer's older meaning: a linear warmup of
`lr * (step + 1) / warmup_steps`, then constant. A config with `[scheduler]` and a non-zero
`[optim] warmup_steps` is refused: two warmups would be one more thing to guess about (an override
`optim.warmup_steps=0` hands the warmup to `[scheduler]`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ScheduleType = Literal["constant", "linear", "cosine", "optim-warmup"]
_TYPES = ("constant", "linear", "cosine")
_KEYS = {"type", "warmup_steps", "decay_steps", "min_lr"}
# prime-rl's LinearLR starts at min_lr / lr, or at this factor when min_lr is 0.
_ZERO_FACTOR = 1e-8


@dataclass(frozen=True)
class Schedule:
    """One learning-rate curve over `max_steps` steps, peaking at the optimizer's `lr`."""

    type: ScheduleType
    warmup_steps: int
    decay_steps: int = 0  # "linear" only
    min_lr: float = 0.0

    def table(self) -> dict[str, Any]:
        """The `[scheduler]` table that says this schedule (none for `[optim] warmup_steps`)."""
        if self.type == "optim-warmup":
            return {}
        out: dict[str, Any] = {"type": self.type}
        if self.type != "constant":
            out.update(warmup_steps=self.warmup_steps, min_lr=self.min_lr)
        if self.type == "linear":
            out["decay_steps"] = self.decay_steps
        return out

    def learning_rate(self, lr: float, max_steps: int, step: int) -> float:
        """The rate of optimizer step `step` (0-based)."""
        if self.type == "optim-warmup":
            if self.warmup_steps and step < self.warmup_steps:
                return lr * (step + 1) / self.warmup_steps
            return lr
        if self.type == "constant":
            return lr
        start = self.min_lr / lr if self.min_lr > 0 and lr > 0 else _ZERO_FACTOR
        if step < self.warmup_steps:
            return lr * (start + (1.0 - start) * step / self.warmup_steps)
        if self.type == "cosine":
            span = max_steps - self.warmup_steps
            into = step - self.warmup_steps
            return self.min_lr + (lr - self.min_lr) * (1 + math.cos(math.pi * into / span)) / 2
        decay_start = max_steps - self.decay_steps
        if self.decay_steps == 0 or step < decay_start:
            return lr
        if self.decay_steps == 1:
            return lr
        into = step - decay_start
        return lr * (1.0 + (start - 1.0) * into / (self.decay_steps - 1))


# (message, key, suggestion) for each problem found; settings.py turns them into Problems.
AddProblem = Callable[[str, tuple[str, ...], str | None], None]


def read_schedule(
    table: Mapping[str, Any] | None,
    optim_warmup_steps: int,
    max_steps: int | None,
    add: AddProblem,
) -> Schedule:
    """The schedule a config says; each mistake goes to `add` in TOML words."""
    if table is None:
        return Schedule("optim-warmup", optim_warmup_steps)
    for key in sorted(set(table) - _KEYS):
        add(
            "is not a key of [scheduler]",
            ("scheduler", key),
            "prime-rl's [scheduler] has type, warmup_steps, decay_steps and min_lr",
        )
    kind = table.get("type", "constant")
    if kind not in _TYPES:
        add(
            f"must be one of {', '.join(map(repr, _TYPES))}, not {kind!r}",
            ("scheduler", "type"),
            None,
        )
        return Schedule("constant", 0)
    if optim_warmup_steps:
        add(
            f"is {optim_warmup_steps} as well as [scheduler]: one schedule decides the warmup",
            ("optim", "warmup_steps"),
            "move it to [scheduler] warmup_steps (or set it to 0)",
        )
    warmup = _whole(table, "warmup_steps", 10, add)
    decay = _whole(table, "decay_steps", 10, add)
    min_lr = table.get("min_lr", 0.0)
    if isinstance(min_lr, bool) or not isinstance(min_lr, int | float) or min_lr < 0:
        add(f"must be a number >= 0, not {min_lr!r}", ("scheduler", "min_lr"), None)
        min_lr = 0.0
    if kind == "constant":
        return Schedule("constant", 0)
    if max_steps is not None:
        if kind == "linear" and warmup == 0 and decay == 0:
            add(
                "and decay_steps are both 0",
                ("scheduler", "warmup_steps"),
                'use type = "constant" for a constant rate',
            )
        if kind == "linear" and warmup + decay > max_steps:
            add(
                f"plus decay_steps ({warmup} + {decay}) exceeds max_steps ({max_steps})",
                ("scheduler", "warmup_steps"),
                None,
            )
        if kind == "cosine" and warmup >= max_steps:
            add(
                f"({warmup}) must be less than max_steps ({max_steps})",
                ("scheduler", "warmup_steps"),
                None,
            )
    return Schedule(kind, warmup, decay if kind == "linear" else 0, float(min_lr))


def _whole(table: Mapping[str, Any], key: str, default: int, add: AddProblem) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        add(f"must be a whole number >= 0, not {value!r}", ("scheduler", key), None)
        return default
    return value
