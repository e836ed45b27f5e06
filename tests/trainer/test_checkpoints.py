"""Checkpoints keep the model's dtype; `[ckpt] keep_last` prunes; `skip_optimizer` saves weights.

The expected values come from outside the trainer: the dtype from the safetensors header (read
with `safetensors` itself) and `config.json`, the surviving checkpoints from the steps a config
asks for, and the resumed weights from a straight run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from lossmask.reference_trainer.loop import train
from lossmask.reference_trainer.model import TINY_LLAMA
from lossmask.reference_trainer.resume import TRAINER_STATE
from lossmask.reference_trainer.settings import TrainSettings, load_settings
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"
TINY = [
    "data.num_examples=8",
    "data.batch_size=2",
    "data.micro_batch_size=2",
    "optim.lr=3e-3",
    "ckpt={}",
]


def _settings(out: Path, *overrides: str) -> TrainSettings:
    settings, _ = load_settings(SAMPLED, [*TINY, *overrides], device="cpu", output_dir=out)
    return settings


def _dtypes(checkpoint: Path) -> set[str]:
    with safe_open(str(checkpoint / "model.safetensors"), framework="pt") as handle:
        return {str(handle.get_slice(key).get_dtype()) for key in handle.keys()}  # noqa: SIM118


def _bf16_model_dir(tmp_path: Path) -> Path:
    """A config-only model directory that declares bf16 (as real bf16 checkpoints do)."""
    from transformers import LlamaConfig

    from lossmask.masks import load_tokenizer

    folder = tmp_path / "bf16-model"
    vocab = len(load_tokenizer(None, "glm-4.5"))
    config = LlamaConfig(vocab_size=vocab, max_position_embeddings=2048, **TINY_LLAMA)
    config.dtype = torch.bfloat16
    config.save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    return folder


def test_a_bf16_model_saves_bf16_and_resumes_from_its_fp32_weights(tmp_path: Path) -> None:
    model = _bf16_model_dir(tmp_path)
    straight = train(
        _settings(
            tmp_path / "straight",
            "max_steps=4",
            f"model.name={model}",
            "tokenizer.name=embedded:glm-4.5",
        )
    )
    checkpoint = straight.checkpoints[-1]
    assert _dtypes(checkpoint) == {"BF16"}
    assert json.loads((checkpoint / "config.json").read_text())["dtype"] == "bfloat16"
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(checkpoint)
    assert {parameter.dtype for parameter in loaded.parameters()} == {torch.bfloat16}
    # The trainer stepped fp32 weights: the checkpoint keeps them for an exact resume.
    state = torch.load(checkpoint / TRAINER_STATE, weights_only=True)
    assert {value.dtype for value in state["fp32_weights"].values()} == {torch.float32}

    train(
        _settings(
            tmp_path / "split",
            "max_steps=2",
            f"model.name={model}",
            "tokenizer.name=embedded:glm-4.5",
        )
    )
    resumed = train(
        _settings(
            tmp_path / "split",
            "max_steps=4",
            f"model.name={model}",
            "tokenizer.name=embedded:glm-4.5",
            "ckpt.resume_step=2",
        )
    )
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-6)
    for (name, left), (_, right) in zip(
        resumed.model.state_dict().items(), straight.model.state_dict().items(), strict=True
    ):
        assert torch.allclose(left, right, rtol=1e-6, atol=0), name


def test_an_fp32_model_saves_fp32_without_a_second_copy(tmp_path: Path) -> None:
    result = train(_settings(tmp_path / "run", "max_steps=1"))
    checkpoint = result.checkpoints[-1]
    assert _dtypes(checkpoint) == {"F32"}
    assert "fp32_weights" not in torch.load(checkpoint / TRAINER_STATE, weights_only=True)


def test_keep_last_keeps_the_latest_checkpoints(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(_settings(out, "max_steps=5", "ckpt.interval=1", "ckpt.keep_last=2"))
    assert sorted(path.name for path in (out / "checkpoints").iterdir()) == ["step_4", "step_5"]
    assert result.checkpoints == [out / "checkpoints" / "step_4", out / "checkpoints" / "step_5"]


def test_skip_optimizer_saves_weights_only_and_a_resume_starts_adamw_afresh(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    full = train(_settings(tmp_path / "full", "max_steps=2"))
    light = train(_settings(out, "max_steps=2", "ckpt.skip_optimizer=true"))
    assert light.losses == full.losses  # what it trains is the same; only what it saves differs
    state = torch.load(light.checkpoints[-1] / TRAINER_STATE, weights_only=True)
    assert "optimizer" not in state and state["step"] == 2
    full_state = torch.load(full.checkpoints[-1] / TRAINER_STATE, weights_only=True)
    assert "optimizer" in full_state
    logged: list[str] = []
    resumed = train(
        _settings(out, "max_steps=3", "ckpt.skip_optimizer=true", "ckpt.resume_step=2"),
        log=logged.append,
        progress=False,
    )
    assert "the checkpoint's optimizer state is not loaded: AdamW starts afresh" in logged
    assert len(resumed.losses) == 3 and resumed.losses[:2] == light.losses
