"""SIGTERM / SIGINT to a real `lossmask train` process: it finishes the step, saves, exits 143/130.

The run is told to train far more steps than it gets; the signal is sent once the first step's
metrics are on disk. The saved checkpoint then resumes to the loss curve of a straight run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lossmask.exit_codes import ExitCode
from lossmask.reference_trainer.loop import train
from lossmask.reference_trainer.outputs import read_metrics
from lossmask.reference_trainer.resume import TRAINER_STATE
from lossmask.reference_trainer.settings import load_settings
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"
RUN = ["data.num_examples=8", "data.batch_size=2", "data.micro_batch_size=2", "optim.lr=3e-3"]


def _train_until_signalled(out: Path, signum: int) -> tuple[subprocess.CompletedProcess[str], int]:
    command = [sys.executable, "-m", "lossmask", "train", str(SAMPLED), "--device", "cpu"]
    for override in [*RUN, "max_steps=10000", "ckpt={}"]:
        command += ["--set", override]
    command += ["--output-dir", str(out), "--eval-examples", "0", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.is_file() and metrics.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the run never trained a step:\n{stdout}\n{stderr}")
        time.sleep(0.1)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return done, len(read_metrics(metrics))


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_that_resumes_the_straight_run(tmp_path: Path) -> None:
    out = tmp_path / "stopped"
    done, steps = _train_until_signalled(out, signal.SIGTERM)
    assert done.returncode == ExitCode.TERMINATED == 143, done.stdout + done.stderr
    checkpoint = out / "checkpoints" / f"step_{steps}"
    assert f"stopped by SIGTERM after step {steps}" in done.stdout
    assert f"checkpoint {checkpoint}" in done.stdout
    assert (checkpoint / "model.safetensors").is_file()
    assert (checkpoint / TRAINER_STATE).is_file()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"step_{steps}"]
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in done.stderr

    total = steps + 2
    resumed, _ = load_settings(
        SAMPLED,
        [*RUN, f"max_steps={total}", "ckpt.resume_step=-1"],
        device="cpu",
        output_dir=out,
    )
    straight, _ = load_settings(
        SAMPLED, [*RUN, f"max_steps={total}"], device="cpu", output_dir=tmp_path / "straight"
    )
    continued = train(resumed, progress=False).losses
    assert len(continued) == total
    assert continued == pytest.approx(train(straight, progress=False).losses, rel=1e-6)


@pytest.mark.slow
def test_sigint_exits_130_after_saving_the_metrics_and_curve(tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    done, steps = _train_until_signalled(out, signal.SIGINT)
    assert done.returncode == ExitCode.INTERRUPTED == 130, done.stdout + done.stderr
    assert f"stopped by SIGINT after step {steps}" in done.stdout
    assert (out / "checkpoints" / f"step_{steps}" / TRAINER_STATE).is_file()
    assert (out / "loss.png").is_file()
    assert "Traceback" not in done.stderr
