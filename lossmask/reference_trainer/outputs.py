"""What a run leaves behind: metrics JSONL, a loss-curve PNG, the resolved config, checkpoints.

Checkpoints are plain Hugging Face directories (safetensors weights, config.json, tokenizer
files, generation_config.json with the serving stop ids) so `AutoModelForCausalLM.from_pretrained`
and `AutoTokenizer.from_pretrained` load them, and so does `[model] name = "<path>"` in a new run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lossmask.reference_trainer.settings import TrainSettings

RESOLVED_CONFIG_NAME = "config.resolved.toml"


class MetricsWriter:
    """Appends one JSON object per line and flushes, so a crashed run keeps its metrics.

    A resumed run keeps the records of the steps it resumed after (`keep_through_step`) and drops
    any later ones, which the interrupted run wrote after its last checkpoint.
    """

    def __init__(self, path: Path, keep_through_step: int = 0) -> None:
        self.path = path
        kept = []
        if keep_through_step and path.is_file():
            kept = [r for r in read_metrics(path) if r.get("step", 0) <= keep_through_step]
        path.write_text("".join(json.dumps(record) + "\n" for record in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_resolved_config(settings: TrainSettings, path: Path) -> None:
    """The settings this run actually used, as TOML, with the keys it ignored named on top."""
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("Resolved by `lossmask train`: the settings this run used."))
    if settings.config_path is not None:
        document.add(tomlkit.comment(f"From {settings.config_path}"))
    if settings.unimplemented:
        document.add(
            tomlkit.comment(
                "Set but not implemented (ignored): " + ", ".join(settings.unimplemented)
            )
        )
    for key, value in settings.resolved().items():
        document[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def save_checkpoint(
    model: Any,
    backend: Any,
    settings: TrainSettings,
    path: Path,
    weights: dict[str, Any],
    dtype: str,
) -> None:
    """A Hugging Face model directory: `weights` (the full state dict) cast to `dtype`, the
    model's own, with config.json saying so; tokenizer files; the serving stops."""
    import torch

    path.mkdir(parents=True, exist_ok=True)
    # Serve with the stop ids the backend trained towards (GLM: <|user|>, <|observation|>, ...).
    model.generation_config.eos_token_id = list(backend.stop_token_ids())
    from transformers.utils import logging as hf_logging

    # A one-shard tiny model gets a "Writing model shards" bar per checkpoint; the trainer's own
    # progress bar and log lines already say what happens.
    hf_logging.disable_progress_bar()
    target = getattr(torch, dtype)
    cast = {
        key: value.to(target) if value.is_floating_point() else value
        for key, value in weights.items()
    }
    model.save_pretrained(path, safe_serialization=True, state_dict=cast)
    # save_pretrained writes the dtype of the (fp32) parameters into config.json: say what the
    # saved weights are instead.
    trained_dtype = model.config.dtype
    model.config.dtype = target
    try:
        model.config.save_pretrained(path)
    finally:
        model.config.dtype = trained_dtype
    backend.tokenizer.save_pretrained(path)
    write_resolved_config(settings, path / RESOLVED_CONFIG_NAME)


def plot_loss_curve(losses: list[float], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.plot(range(1, len(losses) + 1), losses, linewidth=1.2)
    axes.set_xlabel("step")
    axes.set_ylabel("loss per trained token")
    axes.set_yscale("log")
    axes.grid(alpha=0.3)
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
