"""The experiment, smaller: the legacy role mask runs on past the requested tool calls, "sampled"
closes its tool turns with `<|observation|>`.

Same two configs as examples/experiment/, fewer steps and held-out prompts so it fits in about two
CPU minutes. The full-size figures are in docs/benchmarks.md. Margins are wide on purpose: the
direction is the claim, and the full run shows 100% vs 0%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lossmask.reference_trainer.experiment import (
    STOP_EVAL_JSON,
    STOP_EVAL_TABLE,
    load_all,
    run_configs,
)
from tests.conftest import REPO_ROOT

EXPERIMENT = REPO_ROOT / "examples" / "experiment"
SMALL = ["max_steps=60", "data.batch_size=8", "data.micro_batch_size=8", "data.num_examples=480"]


@pytest.mark.slow
def test_small_experiment_shows_the_stop_token_failure_and_its_fix(tmp_path: Path) -> None:
    runs, _ = load_all(
        [EXPERIMENT / "legacy-roles.toml", EXPERIMENT / "sampled.toml"],
        SMALL,
        device="cpu",
        output_dir=tmp_path,
        eval_examples=16,
        max_new_tokens=96,
    )
    logged: list[str] = []
    result = run_configs(runs, output_dir=tmp_path, log=logged.append, progress=False)
    assert result.stopped_by == 0
    legacy, sampled = (outcome.summary for outcome in result.outcomes)
    assert legacy is not None and sampled is not None
    assert (legacy.label, sampled.label) == ("legacy-roles", "sampled")
    assert legacy.tool_turns == sampled.tool_turns == 16

    table = (tmp_path / STOP_EVAL_TABLE).read_text()
    print(table)  # the figures, for the CI log
    assert "closed with <\\|observation\\|>" in table.splitlines()[0]  # Markdown-escaped
    assert legacy.pct_ran_on >= 50, table
    assert legacy.pct_closed_with_observation <= 20, table
    assert sampled.pct_closed_with_observation >= 80, table
    assert sampled.pct_ran_on <= 20, table
    assert sampled.max_calls < legacy.max_calls, table
    assert table.splitlines()[2].startswith("| legacy-roles |")
    assert table.splitlines()[3].startswith("| sampled      |")
    printed = "\n".join(logged)
    assert "closed with <|observation|>" in printed
    assert "| legacy-roles |" in printed and "| sampled      |" in printed
    assert (tmp_path / STOP_EVAL_JSON).is_file()
    assert (tmp_path / "sampled" / STOP_EVAL_JSON).is_file()
