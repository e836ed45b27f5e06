"""`audit`'s train/serve stop consistency, `"train": false` turns, and refusals by reason.

The expected counts are read off the rendered text here (which token ends each turn, and whether
the server stops on it), not taken from the engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.cli_runner import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import template_families as survey

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "examples" / "data" / "weather-tools.jsonl"
CONFIGS = REPO_ROOT / "examples" / "configs" / "show"


def run(*args: str) -> tuple[int, str, str]:
    result = run_cli(list(args))
    return result.exit_code, result.stdout, result.stderr


def write_config(tmp_path: Path, tokenizer: Path) -> str:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[tokenizer]\nname = "{tokenizer.as_posix()}"\n\n[data]\nloss_mask = "sampled"\n'
    )
    return str(path)


def write_rows(tmp_path: Path, rows: list[dict[str, Any]]) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_a_closer_that_is_not_a_serving_stop_is_reported(tmp_path: Path) -> None:
    """gpt-oss: the server stops on `<|return|>`, `<|endoftext|>` and `<|call|>`; the template
    ends a final answer that more messages follow with `<|end|>`."""
    family = next(f for f in survey.load_families() if f.name == "gpt-oss")
    directory = survey.save_tokenizer(family, tmp_path / "gpt-oss")
    chats = survey.PLAIN_CHATS
    tokenizer = survey.build_tokenizer(family)
    texts = [tokenizer.apply_chat_template(chat["messages"], tokenize=False) for chat in chats]
    # Read off the text: every answer but the last ends with <|end|>, the last with <|return|>.
    answers = [m for chat in chats for m in chat["messages"] if m["role"] == "assistant"]
    ended = sum(
        text.count("<|message|>" + m["content"] + "<|end|>") for text in texts for m in answers
    )
    returned = sum(text.endswith("<|return|>") for text in texts)
    assert (ended, returned) == (2, 2)
    config, rows = write_config(tmp_path, directory), write_rows(tmp_path, chats)

    code, out, err = run("audit", config, "--data", rows)
    assert (code, err) == (0, "")
    consistency = out.split("  train/serve stops", 1)[1].splitlines()
    assert consistency == [
        " (the server stops on '<|return|>', '<|endoftext|>', '<|call|>'):",
        "    closed by their own serving stop: 2 turns ('<|return|>' 2)",
        "    closed by a token that is not a serving stop: 2 turns ('<|end|>' 2; line 1: "
        "messages[2] ends with '<|end|>'): trained on it, the served model ends its turn with a "
        "token the server does not stop on and runs on",
        "    serving stops no turn trains: '<|endoftext|>', '<|call|>'",
    ]
    code, out, _ = run("audit", config, "--data", rows, "--format", "json")
    (report,) = json.loads(out)["reports"]
    assert report["stop_consistency"] == {
        "serving_stops": ["'<|return|>'", "'<|endoftext|>'", "'<|call|>'"],
        "closed_by_serving_stop": {"'<|return|>'": 2},
        "closed_by_next_opener": {},
        "left_open_stop_appended": 0,
        "not_a_serving_stop": {
            "turns": 2,
            "tokens": {"'<|end|>'": 2},
            "example": "line 1: messages[2] ends with '<|end|>'",
        },
        "serving_stops_never_trained": ["'<|endoftext|>'", "'<|call|>'"],
    }


def test_glm_turns_are_closed_by_the_next_role_opener() -> None:
    """The tagless GLM-4.5 template: each tool-call turn is closed by the `<|observation|>` the
    tool message writes, each final answer is left open (the data ends there)."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    tool_turns = sum(1 for r in rows for m in r["messages"] if m.get("tool_calls"))
    final_turns = sum(r["messages"][-1]["role"] == "assistant" for r in rows)
    code, out, _ = run(
        "audit", str(CONFIGS / "glm-notags-sampled.toml"), "--data", str(DATA), "--format", "json"
    )
    assert code == 0
    (report,) = json.loads(out)["reports"]
    consistency = report["stop_consistency"]
    assert consistency["closed_by_next_opener"] == {"'<|observation|>' opens tool": tool_turns}
    assert consistency["left_open_stop_appended"] == final_turns
    assert consistency["closed_by_serving_stop"] == {}
    assert consistency["not_a_serving_stop"]["turns"] == 0
    assert consistency["serving_stops_never_trained"] == ["'<|user|>'"]


def test_a_turn_excluded_with_train_false_is_counted_apart(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in DATA.read_text().splitlines()][:27]
    rows[5]["messages"][-1]["train"] = False
    data = write_rows(tmp_path, rows)
    config = str(CONFIGS / "glm-sampled.toml")
    code, out, err = run("audit", config, "--data", data, "--fail-under-stop-rate", "1")
    assert (code, err) == (0, "")
    assert "  final turns          26            26   100.0%                0" in out
    assert '  turns excluded with "train": false: 1 (in no stop rate)' in out
    code, out, _ = run("audit", config, "--data", data, "--format", "json")
    (report,) = json.loads(out)["reports"]
    assert report["excluded_turns"] == 1
    assert report["stop_rate"]["final"]["turns"] == 26


def test_refused_rows_are_summarised_by_reason(tmp_path: Path) -> None:
    """TRL's DeepSeek-V3 template writes no `<｜Assistant｜>` before a second tool-calling turn."""
    family = next(f for f in survey.load_families() if f.name == "deepseek-v3")
    directory = survey.save_tokenizer(family, tmp_path / "deepseek-v3")
    chats = survey.conversations(family)
    tokenizer = survey.build_tokenizer(family)
    undefined = [
        n for n, chat in enumerate(chats) if survey.reference(family, tokenizer, chat).undefined
    ]
    assert len(undefined) >= 2
    config, rows = write_config(tmp_path, directory), write_rows(tmp_path, chats)
    code, out, err = run("audit", config, "--data", rows, "--format", "json")
    assert code == 1
    (report,) = json.loads(out)["reports"]
    reason = "generation prompt not in the training text"
    assert list(report["refused"]) == [reason]
    assert report["refused"][reason]["rows"] == len(undefined)
    assert report["refused"][reason]["first"].startswith(f"line {undefined[0] + 1}: messages[")
    (line,) = err.splitlines()
    assert line.startswith(f"{rows}:{undefined[0] + 1}: row {undefined[0]}: messages[")
    assert line.endswith(f"(and {len(undefined) - 1} more rows like it)")
