"""`lossmask train` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import run_cli
from tests.conftest import REPO_ROOT

SAMPLED = REPO_ROOT / "examples" / "experiment" / "sampled.toml"


def test_invalid_config_exits_2_with_file_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('max_steps = 3\n\n[data]\nloss_mask = "sample"\n', encoding="utf-8")
    result = run_cli(["train", str(config)])
    assert result.exit_code == 2
    assert f"{config}:4: data.loss_mask:" in result.output


def test_bad_override_exits_2(tmp_path: Path) -> None:
    result = run_cli(["train", str(SAMPLED), "--set", "max_steps"])
    assert result.exit_code == 2
    assert "--set 'max_steps': expected KEY=VALUE (e.g. --set data.seq_len=512)" in result.output


def test_tiny_run_prints_the_stop_table_and_lists_ignored_keys(tmp_path: Path) -> None:
    args = ["train", str(SAMPLED), "--output-dir", str(tmp_path), "--no-progress"]
    for override in (
        "max_steps=2",
        "data.num_examples=4",
        "data.batch_size=2",
        "data.micro_batch_size=2",
        "wandb.project=x",
    ):
        args += ["--set", override]
    args += ["--eval-examples", "2", "--max-new-tokens", "4"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    assert "not implemented by the reference trainer, ignored: wandb.project" in result.output
    assert "| run     | tool turns |" in result.output
    summary = json.loads((tmp_path / "stop_eval.json").read_text())[0]
    assert (summary["label"], summary["tool_turns"], summary["final_turns"]) == ("sampled", 2, 2)
    assert all(len(turn["generated"]) > 0 for turn in summary["turns"])
