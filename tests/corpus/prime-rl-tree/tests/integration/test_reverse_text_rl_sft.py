import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Generator

import httpx
import pytest

from prime_rl.utils.process import cleanup_process
from tests.conftest import ProcessResult
from tests.utils import check_final_eval_reward_above, check_no_error, strip_escape_codes

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

RUN_NAME = "reverse-text-rl-sft"


@pytest.fixture(scope="module")
def run_dir(output_dir: Path) -> Path:
    return output_dir / RUN_NAME


TIMEOUT = 900  # 15 minutes (was 600s — same overhead as reverse_text)
REF_PORT = 8001
REF_READY_TIMEOUT_S = 300


def _wait_for_ref_server(port: int, timeout_s: int) -> None:
    """Block until the frozen reference server's /v1/models endpoint is reachable."""
    url = f"http://localhost:{port}/v1/models"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            r = httpx.get(url, timeout=2.0)
            if r.status_code == 200:
                return
        except (httpx.ConnectError, httpx.ReadTimeout):
            pass
        time.sleep(1.0)
    raise TimeoutError(f"Teacher inference server at {url} did not become ready within {timeout_s}s")


@pytest.fixture(scope="module")
def ref_inference(output_dir: Path) -> Generator[subprocess.Popen, None, None]:
    """Spawn a `uv run inference` frozen reference server on GPU 0 (shared with the rl-launched
    policy) at 40% gpu_memory_utilization. Tears down at module scope.
    """
    # The rl entrypoint's --clean wipes the rl output_dir on start,
    # so park the reference-server log next to it instead of inside it.
    ref_log_dir = output_dir.parent / f"{output_dir.name}_ref"
    ref_log_dir.mkdir(parents=True, exist_ok=True)
    log_path = ref_log_dir / "ref_inference.log"
    cmd = [
        "uv",
        "run",
        "inference",
        "--vllm.model",
        "PrimeIntellect/Qwen3-0.6B-Reverse-Text-RL",
        "--server.port",
        str(REF_PORT),
        "--vllm.gpu-memory-utilization",
        "0.4",
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"}
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=log_file)
    try:
        _wait_for_ref_server(REF_PORT, REF_READY_TIMEOUT_S)
        yield proc
    finally:
        cleanup_process(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cleanup_process(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def wandb_name(branch_name: str) -> str:
    return f"test-reverse-text-rl-sft:{branch_name}"


@pytest.fixture(scope="module")
def rl_sft_process(
    ref_inference,
    run_process: Callable[..., ProcessResult],
    output_dir: Path,
    wandb_project: str,
    wandb_name: str,
) -> ProcessResult:
    """Run the RL entrypoint with the sft algorithm; ref_inference is
    a fixture-managed external vLLM at http://localhost:8001/v1."""
    cmd = [
        "uv",
        "run",
        "rl",
        "@",
        "configs/ci/integration/reverse-text-rl-sft/start.toml",
        "--clean",
        "--monitors.wandb.project",
        wandb_project,
        "--monitors.wandb.name",
        wandb_name,
        "--output-dir",
        output_dir.as_posix(),
        "--run.name",
        RUN_NAME,
    ]
    return run_process(cmd, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def test_no_error(rl_sft_process: ProcessResult, run_dir: Path):
    check_no_error(rl_sft_process, run_dir)


def test_eval_reward_converges(rl_sft_process: ProcessResult, test_no_error, run_dir: Path):
    with open(run_dir / "logs" / "latest" / "orchestrator.log", "r") as f:
        orchestrator_stdout = strip_escape_codes(f.read()).splitlines()
    check_final_eval_reward_above(orchestrator_stdout, env_name="reverse-text", min_threshold=0.5)
