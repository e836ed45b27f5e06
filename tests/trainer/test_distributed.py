"""Two CPU processes under torchrun (gloo) train the same loss curve as one process, with DDP and
with FSDP2.

Both runs see the same global batches (GlobalBatchSampler), and each normalises by the trained
tokens of the whole global batch, so the only difference is the order of floating-point sums:
gradients are reduced across ranks instead of accumulated in one process. Tolerance: 1e-5
relative on the per-step loss over 4 AdamW steps. Under FSDP2 (every decoder block and the root
sharded over the two processes) the checkpoint is gathered on rank 0: `from_pretrained` loads it,
and every weight tensor is the single process's final one to 1e-5 (relative norm of the difference;
measured 2.2e-6 for both engines).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lossmask.reference_trainer.loop import train
from lossmask.reference_trainer.outputs import read_metrics
from lossmask.reference_trainer.settings import load_settings
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"
RUN = ["data.num_examples=16", "data.batch_size=8", "data.micro_batch_size=2", "max_steps=4"]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("single")
    settings, _ = load_settings(SAMPLED, RUN, device="cpu", output_dir=out)
    return train(settings, progress=False), out


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ddp", "fsdp2"])
def test_two_gloo_processes_match_one_process(
    tmp_path: Path, single: tuple[Any, Path], engine: str
) -> None:
    expected_run, single_out = single
    expected = expected_run.losses
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--standalone", "-m", "lossmask", "train", str(SAMPLED)]
    for override in RUN:
        command += ["--set", override]
    command += ["--device", "cpu", "--output-dir", str(tmp_path / engine), "--eval-examples", "0"]
    command += ["--no-progress", "--data-parallel", engine]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"2 processes ({engine})" in done.stdout

    records = read_metrics(tmp_path / engine / "metrics.jsonl")
    distributed = [record["loss"] for record in records]
    assert len(distributed) == len(expected) == 4
    assert distributed == pytest.approx(expected, rel=TOLERANCE)
    # The same global batches: the trained-token counts agree exactly.
    single_records = read_metrics(single_out / "metrics.jsonl")
    assert [r["trained_tokens"] for r in records] == [r["trained_tokens"] for r in single_records]

    # The checkpoint (sampled.toml has a [ckpt] table) is a whole Hugging Face model directory.
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / engine / "checkpoints" / "step_4")
    # Per tensor, relative to its norm: elementwise, AdamW turns the last bits of a near-zero
    # gradient (summed in another order) into differences of the order of the learning rate.
    reference = expected_run.model.state_dict()
    loaded_state = loaded.state_dict()
    assert loaded_state.keys() == reference.keys()
    for name, value in loaded_state.items():
        difference = float((value - reference[name]).norm() / reference[name].norm())
        assert difference <= TOLERANCE, name
