"""The loop end to end on tiny runs: outputs, accumulation invariance, packing, listed keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lossmask.reference_trainer.loop import train
from lossmask.reference_trainer.outputs import read_metrics
from lossmask.reference_trainer.settings import TrainSettings, load_settings
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"
TINY = ["data.num_examples=12", "data.batch_size=4", "data.micro_batch_size=2", "max_steps=3"]


def _settings(tmp_path: Path, *overrides: str, name: str = "run") -> TrainSettings:
    settings, _ = load_settings(
        SAMPLED, [*TINY, *overrides], device="cpu", output_dir=tmp_path / name
    )
    return settings


def test_run_writes_metrics_plot_resolved_config_and_loadable_checkpoint(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logged: list[str] = []
    settings = _settings(tmp_path, "deployment.num_train_gpus=8")
    result = train(settings, log=logged.append, progress=False)
    out = settings.output_dir

    assert (
        logged[0] == "not implemented by the reference trainer, ignored: deployment.num_train_gpus"
    )
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3]
    assert [r["loss"] for r in records] == result.losses
    assert all(r["trained_tokens"] > 0 and r["trained_tokens_per_s"] > 0 for r in records)
    assert records[-1]["loss"] < records[0]["loss"]
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    resolved = (out / "config.resolved.toml").read_text()
    assert "# Set but not implemented (ignored): deployment.num_train_gpus" in resolved
    assert 'loss_mask = "sampled"' in resolved

    checkpoint = out / "checkpoints" / "step_3"
    assert result.checkpoints == [checkpoint]
    assert (checkpoint / "model.safetensors").is_file()
    assert (checkpoint / "config.resolved.toml").read_text() == resolved
    loaded = AutoModelForCausalLM.from_pretrained(checkpoint)
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert len(tokenizer) == len(result.backend.tokenizer)
    generation = json.loads((checkpoint / "generation_config.json").read_text())
    assert generation["eos_token_id"] == result.backend.stop_token_ids()

    # A real local checkpoint goes through the same path: model and tokenizer from the directory.
    # With lr = 0 its one step changes nothing, so its weights are the ones it started from.
    resumed = train(
        _settings(
            tmp_path, f"model.name={checkpoint}", "max_steps=1", "optim.lr=0", name="resumed"
        ),
        progress=False,
    )
    assert resumed.backend.tokenizer.name_or_path == str(checkpoint)
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name


def test_gradient_accumulation_does_not_change_the_loss_curve(tmp_path: Path) -> None:
    one = train(_settings(tmp_path, "data.micro_batch_size=1", name="a"), progress=False)
    four = train(_settings(tmp_path, "data.micro_batch_size=4", name="b"), progress=False)
    # Same global batches, different padding and accumulation: equal up to fp32 reordering.
    assert one.losses == pytest.approx(four.losses, rel=1e-5)


def test_packing_gives_the_same_loss_curve_as_padding(tmp_path: Path) -> None:
    padded = train(_settings(tmp_path, name="a"), progress=False)
    packed = train(_settings(tmp_path, "data.pack=true", name="b"), progress=False)
    assert padded.losses == pytest.approx(packed.losses, rel=1e-5)


def test_validation_loss_is_logged_at_the_interval(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "val.interval=2", "val.data={num_examples=4}")
    train(settings, progress=False)
    records = read_metrics(settings.output_dir / "metrics.jsonl")
    assert [("val_loss" in r) for r in records] == [False, True, False]
    assert records[1]["val_loss"] > 0
