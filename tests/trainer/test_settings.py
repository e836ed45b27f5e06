"""What the trainer takes from a config: overrides, ignored keys, rejections before tensors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lossmask.config_files.overrides import apply_overrides, parse_override
from lossmask.errors import ConfigError
from lossmask.reference_trainer.outputs import write_resolved_config
from lossmask.reference_trainer.settings import (
    SYNTHETIC_DATA,
    load_settings,
    unimplemented_keys,
)
from lossmask.schema import LossMaskRolesConfig
from tests.conftest import REPO_ROOT

EXPERIMENT = REPO_ROOT / "examples" / "experiment"


def _write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_experiment_configs_differ_only_in_mask_and_renderer() -> None:
    legacy, _ = load_settings(EXPERIMENT / "legacy-roles.toml")
    sampled, _ = load_settings(EXPERIMENT / "sampled.toml")
    assert legacy.data.loss_mask == LossMaskRolesConfig(assistant=True)
    assert legacy.renderer_name is None
    assert sampled.data.loss_mask == "sampled"
    assert sampled.renderer_name == "glm-4.5"
    same = {"max_steps": 150, "seed": 0, "lr": 3e-3, "weight_decay": 0.0, "model_name": None}
    for key, value in same.items():
        assert getattr(legacy, key) == getattr(sampled, key) == value
    assert legacy.data.name == sampled.data.name == SYNTHETIC_DATA
    assert (legacy.data.batch_size, legacy.data.micro_batch_size) == (16, 8)
    assert legacy.unimplemented == sampled.unimplemented == ()
    assert legacy.checkpoint and legacy.ckpt_interval is None


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("max_steps=5", ("max_steps",), 5),
        ("data.loss_mask=all", ("data", "loss_mask"), "all"),
        ('data.loss_mask="sampled"', ("data", "loss_mask"), "sampled"),
        ("data.loss_mask={tool=true}", ("data", "loss_mask"), {"tool": True}),
        ("model.name=/models/my model", ("model", "name"), "/models/my model"),
        ("optim.betas=[0.9, 0.95]", ("optim", "betas"), [0.9, 0.95]),
        ("optim.lr=3e-4", ("optim", "lr"), 3e-4),
    ],
)
def test_parse_override(text: str, path: tuple[str, ...], value: object) -> None:
    assert parse_override(text) == (path, value)


def test_apply_overrides_creates_tables_and_leaves_input_alone() -> None:
    data = {"data": {"loss_mask": "sampled"}}
    out = apply_overrides(data, ["renderer.name=glm-4.5", "data.seq_len=64"])
    assert out == {"data": {"loss_mask": "sampled", "seq_len": 64}, "renderer": {"name": "glm-4.5"}}
    assert data == {"data": {"loss_mask": "sampled"}}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("max_steps", "expected KEY=VALUE"),
        ("data.loss_mask.tool=true", "data.loss_mask is a value, not a table"),
    ],
)
def test_bad_overrides_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides({"data": {"loss_mask": "sampled"}}, [override])


def test_overrides_reach_the_settings() -> None:
    settings, _ = load_settings(
        EXPERIMENT / "sampled.toml",
        ["max_steps=7", "data.loss_mask={assistant=true, tool=true}", "data.micro_batch_size=8"],
    )
    assert settings.max_steps == 7
    assert settings.data.loss_mask == LossMaskRolesConfig(assistant=True, tool=True)
    assert settings.data.micro_batch_size == 8


def test_unimplemented_keys_of_a_real_prime_rl_config_are_listed(corpus_dir: Path) -> None:
    import tomllib

    data = tomllib.loads((corpus_dir / "examples/vlm_sft_moe/sft.toml").read_text())
    assert unimplemented_keys(data) == [
        "dist_timeout_seconds",
        "model.optimization_dtype",
        "model.reduce_dtype",
        "model.impl",
        "model.attn",
        "model.ep",
        "model.vlm.vision_encoder_attr",
        "model.vlm.language_model_attr",
        "model.vlm.freeze_vision_encoder",
        "model.lora.rank",
        "model.lora.alpha",
        "model.lora.target_modules",
        "model.ac.mode",
        "model.ac.targets",
        "deployment.type",
        "deployment.num_train_gpus",
    ]


def test_unimplemented_keys_are_in_the_settings(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "max_steps = 2\n[model.lora]\nrank = 8\n[deployment]\nnum_train_gpus = 1\n"
    )
    settings, _ = load_settings(path)
    assert settings.unimplemented == ("model.lora.rank", "deployment.num_train_gpus")


def test_every_rejection_is_reported_with_file_key_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[data]\ntype = "fake"\nname = "org/remote-dataset"\nbatch_size = 6\nmicro_batch_size = 2\n'
        "[val]\ninterval = 10\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, device="cpu", world_size=2)
    lines = [problem.format() for problem in caught.value.problems]
    assert lines == [
        f"{path}: max_steps: is required by the reference trainer (e.g. max_steps = 300)",
        f'{path}:2: data.type: type = "fake" is not supported: the reference trainer trains '
        'conversations (use type = "sft" (or remove it) with a JSONL file of conversations)',
        f"{path}:4: data.batch_size: batch_size (6) must be a multiple of micro_batch_size (2) "
        "times the number of processes (2) (every process must run the same number of "
        "micro-batches per step)",
        f"{path}:7: val.interval: is set but [val.data] is missing",
    ]


def test_cuda_request_without_cuda_is_rejected(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = _write(tmp_path, "max_steps = 1\n")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        load_settings(path, device="cuda")


def test_schema_errors_come_first_with_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, 'max_steps = 1\n[data]\nloss_mask = "sample"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problem = caught.value.problems[0]
    assert (problem.key_text, problem.line) == ("data.loss_mask", 3)


def test_resolved_config_reloads_to_the_same_settings(tmp_path: Path) -> None:
    settings, _ = load_settings(
        EXPERIMENT / "legacy-roles.toml", ["optim.warmup_steps=3"], output_dir=tmp_path / "out"
    )
    resolved = tmp_path / "resolved.toml"
    write_resolved_config(settings, resolved)
    again, _ = load_settings(resolved)
    for field in ("max_steps", "seed", "data", "lr", "betas", "warmup_steps", "checkpoint"):
        assert getattr(again, field) == getattr(settings, field), field
    assert again.output_dir == settings.output_dir
    assert again.model_name == "embedded:tiny-llama"
