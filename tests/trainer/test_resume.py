"""Resume: 2N steps with a stop and a resume after N train what 2N straight steps train.

The warmup (3 steps) crosses the stop, so a resume that restarted the schedule, the data order or
the optimizer moments would change the curve at step N + 1. Tolerance: 1e-6 relative on CPU fp32
(the loss per step and every final weight).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lossmask.errors import ConfigError
from lossmask.reference_trainer.loop import train
from lossmask.reference_trainer.outputs import read_metrics
from lossmask.reference_trainer.resume import TRAINER_STATE
from lossmask.reference_trainer.settings import TrainSettings, load_settings
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"
N = 2
TINY = [
    "data.num_examples=12",
    "data.batch_size=4",
    "data.micro_batch_size=2",
    "optim.warmup_steps=3",
    "optim.lr=3e-3",
    "ckpt={}",
]
RELATIVE = 1e-6


def _settings(out: Path, *overrides: str, resume: Path | None = None) -> TrainSettings:
    settings, _ = load_settings(
        SAMPLED, [*TINY, *overrides], device="cpu", output_dir=out, resume=resume
    )
    return settings


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, left), (_, right) in zip(
        a.state_dict().items(), b.state_dict().items(), strict=True
    ):
        assert torch.allclose(left, right, rtol=RELATIVE, atol=0), name


def test_stop_and_resume_continues_the_straight_run(tmp_path: Path) -> None:
    straight = train(_settings(tmp_path / "straight", f"max_steps={2 * N}"), progress=False)

    first = train(_settings(tmp_path / "split", f"max_steps={N}"), progress=False)
    assert first.checkpoints == [tmp_path / "split" / "checkpoints" / f"step_{N}"]
    resumed = train(
        _settings(tmp_path / "split", f"max_steps={2 * N}", f"ckpt.resume_step={N}"),
        progress=False,
    )

    assert resumed.losses == pytest.approx(straight.losses, rel=RELATIVE)
    # The metrics file holds the whole curve: steps 1..N from the first run, N+1..2N resumed.
    records = read_metrics(tmp_path / "split" / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 2 * N + 1))
    assert [r["loss"] for r in records] == pytest.approx(straight.losses, rel=RELATIVE)
    assert [r["lr"] for r in records] == [
        r["lr"] for r in read_metrics(tmp_path / "straight" / "metrics.jsonl")
    ]
    _assert_same_weights(resumed.model, straight.model)


def test_resume_dir_and_latest_step_pick_the_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_settings(out, "max_steps=2", "ckpt.interval=1"), progress=False)
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step_1", "step_2"]

    latest = train(_settings(out, "max_steps=3", "ckpt.resume_step=-1"), progress=False)
    explicit = train(
        _settings(tmp_path / "other", "max_steps=3", resume=checkpoints / "step_2"),
        progress=False,
    )
    assert len(latest.losses) == len(explicit.losses) == 3
    assert latest.losses == pytest.approx(explicit.losses, rel=RELATIVE)


def _problem_lines(settings: TrainSettings) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        train(settings, progress=False)
    return [problem.format() for problem in caught.value.problems]


def test_resume_problems_are_located_and_nothing_is_trained(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_settings(out, "max_steps=1"), progress=False)
    step_1 = out / "checkpoints" / "step_1"

    logged: list[str] = []
    train(
        _settings(out, "max_steps=2", "ckpt.resume_step=1", "seed=7"),
        log=logged.append,
        progress=False,
    )
    assert (
        f"{SAMPLED}:22: ckpt.resume_step: warning: resuming {step_1} with settings that differ "
        "from its own: seed (0 -> 7); the run goes on from its weights but no longer continues "
        "its loss curve"
    ) in logged

    assert _problem_lines(_settings(out, "max_steps=4", "ckpt.resume_step=3")) == [
        f"{SAMPLED}:22: ckpt.resume_step: 3: there is no {out / 'checkpoints' / 'step_3'} "
        f"(checkpoints saved in {out / 'checkpoints'}: 1, 2)"
    ]
    (step_1 / TRAINER_STATE).unlink()
    assert _problem_lines(_settings(tmp_path / "x", "max_steps=4", resume=step_1)) == [
        f"{step_1}: the checkpoint has no trainer_state.pt (optimizer, step and RNG state) (to "
        "start a new run from its weights instead, set [model] name to it)"
    ]
    (step_1 / "model.safetensors").unlink()
    assert _problem_lines(_settings(tmp_path / "x", "max_steps=4", resume=step_1)) == [
        f"{step_1}: the checkpoint has no model weights (model.safetensors) (resume from a "
        "complete checkpoint; a run never trains on from random weights)"
    ]
    with pytest.raises(ConfigError) as caught:
        _settings(out, "max_steps=4", "ckpt.resume_step=4")
    assert [p.format() for p in caught.value.problems] == [
        f"{SAMPLED}:22: ckpt.resume_step: 4 leaves nothing to train: max_steps is 4 (raise "
        "max_steps above 4 to train on from step 4)"
    ]
