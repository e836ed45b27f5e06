"""Two CPU processes under torchrun (gloo) train the same loss curve as one process.

Both runs see the same global batches (GlobalBatchSampler), and each normalises by the trained
tokens of the whole global batch, so the only difference is the order of floating-point sums:
gradients are all-reduced across ranks instead of accumulated in one process. Tolerance: 1e-5
relative on the per-step loss over 4 AdamW steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lossmask.reference_trainer.loop import train
from lossmask.reference_trainer.outputs import read_metrics
from lossmask.reference_trainer.settings import load_settings
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"
RUN = ["data.num_examples=16", "data.batch_size=8", "data.micro_batch_size=2", "max_steps=4"]
TOLERANCE = 1e-5


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    single, _ = load_settings(SAMPLED, RUN, device="cpu", output_dir=tmp_path / "single")
    expected = train(single, progress=False).losses

    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--standalone", "-m", "lossmask", "train", str(SAMPLED)]
    for override in RUN:
        command += ["--set", override]
    command += ["--device", "cpu", "--output-dir", str(tmp_path / "ddp"), "--eval-examples", "0"]
    command += ["--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 processes" in done.stdout

    records = read_metrics(tmp_path / "ddp" / "metrics.jsonl")
    distributed = [record["loss"] for record in records]
    assert len(distributed) == len(expected) == 4
    assert distributed == pytest.approx(expected, rel=TOLERANCE)
    # The same global batches: the trained-token counts agree exactly.
    single_records = read_metrics(tmp_path / "single" / "metrics.jsonl")
    assert [r["trained_tokens"] for r in records] == [r["trained_tokens"] for r in single_records]
