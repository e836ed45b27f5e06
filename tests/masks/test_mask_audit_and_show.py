"""`lossmask audit` and `lossmask show`, through the library and the real CLI."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from lossmask.masks import MaskBackend, build_sample
from lossmask.masks.app.audit import FINAL, TOOL_CALL, audit_conversations
from lossmask.masks.app.conversations import as_rows, read_rows
from lossmask.masks.app.view import build_view, render_html, render_terminal, token_texts
from lossmask.schema.roles import LossMaskRolesConfig
from tests.cli_runner import run_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = str(REPO_ROOT / "examples" / "data" / "weather-tools.jsonl")
LEGACY_CONFIG = str(REPO_ROOT / "examples" / "configs" / "show" / "glm-legacy-roles.toml")
SAMPLED_CONFIG = str(REPO_ROOT / "examples" / "configs" / "show" / "glm-sampled.toml")
ROWS = read_rows(DATA)


def test_glm_side_by_side_legacy_template_never_trains_the_observation(
    glm_template: MaskBackend, glm_renderer: MaskBackend
) -> None:
    observation = glm_renderer.tokenizer.convert_tokens_to_ids("<|observation|>")
    tool_call_end = glm_renderer.tokenizer.convert_tokens_to_ids("</tool_call>")
    conversation = ROWS[0].conversation
    legacy = build_sample(conversation, LossMaskRolesConfig(), glm_template)
    sampled = build_sample(conversation, "sampled", glm_renderer)
    assert legacy.target_ids == sampled.target_ids
    position = sampled.target_ids.index(observation)
    assert sampled.input_ids[position] == tool_call_end  # predicted right after </tool_call>
    assert sampled.loss_mask[position] and not legacy.loss_mask[position]
    assert legacy.provenance[position].role == "tool"
    assert sampled.provenance[position].role == "assistant"


def test_audit_stop_rates_show_the_glm_bug_on_the_synthetic_set(
    glm_template: MaskBackend, glm_renderer: MaskBackend
) -> None:
    legacy = audit_conversations(ROWS, LossMaskRolesConfig(), glm_template)
    sampled = audit_conversations(ROWS, "sampled", glm_renderer)
    for report in (legacy, sampled):
        assert report.stops[TOOL_CALL].turns == report.stops[FINAL].turns == 64
        assert report.calls_per_turn == {1: 47, 2: 10, 3: 7}
    assert legacy.stops[TOOL_CALL].rate == 0.0
    assert legacy.stops[FINAL].rate == 1.0
    assert sampled.stops[TOOL_CALL].rate == sampled.stops[FINAL].rate == 1.0


def test_audit_counts_stops_lost_to_seq_len(glm_renderer: MaskBackend) -> None:
    conversation = ROWS[0].conversation
    full = build_sample(conversation, "sampled", glm_renderer)
    report = audit_conversations(
        as_rows([conversation]), "sampled", glm_renderer, seq_len=len(full.target_ids) - 1
    )
    assert report.stats.truncated == 1
    assert report.stops[FINAL].lost_to_truncation == 1
    assert report.stops[FINAL].stop_trained == 0
    assert report.stops[TOOL_CALL].stop_trained == 1


@pytest.mark.parametrize("seq_len", [None, 300, 120])
def test_audit_counts_equal_counting_each_shifted_training_sample(
    glm_renderer: MaskBackend, seq_len: int | None
) -> None:
    # audit counts without building the shifted sample; the reference builds it and counts its
    # targets by hand, as a trainer would see them.
    report = audit_conversations(ROWS, "sampled", glm_renderer, seq_len=seq_len)
    by_role: Counter[str] = Counter()
    truncated = samples = 0
    for row in ROWS:
        sample = build_sample(row.conversation, "sampled", glm_renderer, seq_len)
        truncated += sample.truncated
        samples += any(sample.loss_mask)
        for trained, provenance in zip(sample.loss_mask, sample.provenance, strict=True):
            by_role[provenance.role or "none"] += trained
    assert truncated == report.stats.truncated
    assert (truncated > 0) == (seq_len is not None)
    assert samples == report.stats.samples
    assert +by_role == report.stats.trained_tokens_by_role
    assert sum(by_role.values()) == report.stats.trained_tokens


def run(*args: str) -> tuple[int, str]:
    result = run_cli(list(args))
    return result.exit_code, result.output


def test_cli_audit_table_and_threshold() -> None:
    code, output = run("audit", LEGACY_CONFIG, SAMPLED_CONFIG, "--data", DATA)
    assert code == 0
    rows = re.findall(r"tool-call turns\s+64\s+(\d+)\s+([\d.]+%)", output)
    assert rows == [("0", "0.0%"), ("64", "100.0%")]
    code, output = run("audit", LEGACY_CONFIG, "--data", DATA, "--fail-under-stop-rate", "0.95")
    assert code == 1
    assert "lowest stop rate 0.0% of roles(assistant) is under 95.0%" in output
    code, _ = run("audit", SAMPLED_CONFIG, "--data", DATA, "--fail-under-stop-rate", "95")
    assert code == 0


def test_cli_audit_json() -> None:
    code, output = run("audit", SAMPLED_CONFIG, "--data", DATA, "--format", "json")
    assert code == 0
    report = json.loads(output)["reports"][0]
    assert report["stop_rate"]["tool_call"] == {
        "turns": 64,
        "stop_trained": 64,
        "rate": 1.0,
        "lost_to_truncation": 0,
    }
    assert report["tool_calls_per_turn"] == {"1": 47, "2": 10, "3": 7}
    assert report["backend"] == "renderer:glm-4.5"


def test_cli_errors_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    code, output = run("audit", SAMPLED_CONFIG, "--data", str(missing))
    assert code == 2 and "missing.jsonl" in output
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\nloss_mask = "sample"\n', encoding="utf-8")
    code, output = run("show", str(bad), "--data", DATA)
    assert code == 2 and "data.loss_mask" in output
    code, output = run("show", SAMPLED_CONFIG, "--data", DATA, "--index", "64")
    assert code == 2 and "out of range" in output


def test_cli_show_compare_marks_exactly_the_differing_tokens(tmp_path: Path) -> None:
    page = tmp_path / "show.html"
    code, output = run(
        "show",
        SAMPLED_CONFIG,
        "--data",
        DATA,
        "--compare",
        LEGACY_CONFIG,
        "--no-color",
        "--html",
        str(page),
    )
    assert code == 0
    # Row 0 has one tool-call turn: the <|observation|> trains only under "sampled", and the two
    # `<|assistant|>` openers only under the legacy table (the `\n` after each trains under both).
    body, legend = output.split(" targets, each aligned to the token being predicted")
    assert re.findall(r"\{\+(.*?)\+\}", body, flags=re.S) == ["<|observation|>"]
    assert re.findall(r"\{-(.*?)-\}", body, flags=re.S) == ["<|assistant|>"] * 2
    assert "{+trained only here+} 1   {-trained only there-} 2" in legend
    html = page.read_text(encoding="utf-8")
    assert html.count('class="t trained only-this"') == 1
    assert html.count('class="t context only-other"') == 2
    assert "rule sampled" in html and "&lt;|observation|&gt;" in html
    assert "<script src" not in html and "<link" not in html  # self-contained


def test_cli_show_mode_uses_the_same_config_with_another_mask() -> None:
    code, output = run("show", SAMPLED_CONFIG, "--data", DATA, "--mode", "all", "--no-color")
    assert code == 0
    assert "compared with: --mode all" in output
    assert "{+trained only here+} 0" in output


def test_terminal_colours(glm_renderer: MaskBackend) -> None:
    sample = build_sample(ROWS[0].conversation, "sampled", glm_renderer)
    view = build_view(glm_renderer.tokenizer, sample, title="t", setting="s")
    coloured = render_terminal(view, color=True)
    # Trained (bold green) from the `\n` the model writes after the prompt's `<|assistant|>`.
    assert "<|assistant|>\x1b[0m\x1b[32m\x1b[1m↵\n<think></think>" in coloured
    assert "\x1b[90m[gMASK]" in coloured  # context: grey
    assert view.counts()["trained"] == sample.num_trained
    assert render_html(view).count('class="t trained"') == sample.num_trained


def test_token_texts_put_a_split_character_on_its_last_byte(glm_renderer: MaskBackend) -> None:
    tokenizer = glm_renderer.tokenizer
    ids = tokenizer.encode("1°C<|user|>", add_special_tokens=False)
    texts = token_texts(tokenizer, ids)
    assert "".join(texts) == "1°C<|user|>"
    assert texts[-1] == "<|user|>"


@pytest.mark.parametrize("config", [LEGACY_CONFIG, SAMPLED_CONFIG])
def test_bundled_show_configs_validate(config: str) -> None:
    code, output = run("validate", config)
    assert code == 0, output
