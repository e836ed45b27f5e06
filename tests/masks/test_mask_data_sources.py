"""Issue 10's done-when through the commands: `show` and `audit` read a prime-rl-style `[data]`
over prompt/completion JSONL (string tool arguments, tools as a JSON string), the same rows as
parquet and as a `save_to_disk` folder, and give what the `messages` JSONL of the same
conversations gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import generate_conversations, write_jsonl
from tests.cli_runner import run_cli
from tests.data.conftest import write_jsonl_rows, write_parquet_rows
from tests.data.test_done_when import as_prompt_completion

pytest.importorskip("datasets")

MASK = '[renderer]\nname = "glm-4.5"\n'


def run(*args: str) -> tuple[int, str, str]:
    result = run_cli(list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    import datasets

    monkeypatch.chdir(tmp_path)  # prime-rl resolves data_files against the working directory
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    conversations = generate_conversations(16, seed=5)
    write_jsonl(conversations, tmp_path / "messages.jsonl")
    rows: list[dict[str, Any]] = [as_prompt_completion(c) for c in conversations]
    write_jsonl_rows(tmp_path / "pc.jsonl", rows)
    write_parquet_rows(tmp_path / "pc.parquet", rows)
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "pc-saved"))
    tables = {
        "messages": '[data]\nname = "messages.jsonl"\nloss_mask = "sampled"\n',
        "json": '[data]\nname = "json"\ndata_files = ["pc.jsonl"]\nloss_mask = "sampled"\n',
        "parquet": '[data]\nname = "parquet"\ndata_files = ["pc.parquet"]\nloss_mask = "sampled"\n',
        "saved": '[data]\nname = "pc-saved"\nloss_mask = "sampled"\n',
    }
    configs = {}
    for label, table in tables.items():
        configs[label] = tmp_path / f"{label}.toml"
        configs[label].write_text(MASK + table, encoding="utf-8")
    return configs


def audit_numbers(config: Path, *extra: str) -> dict[str, Any]:
    code, out, err = run("audit", str(config), "--format", "json", *extra)
    assert code == 0, err
    report = json.loads(out)["reports"][0]
    del report["config"]
    # The example names its row as its source does: `line 1` in a JSONL file, `row 0` elsewhere.
    example = report["serving_prompt"].pop("example")
    assert example.endswith(": '\\n' after '<|assistant|>'"), example
    return report


def test_audit_gives_the_same_numbers_for_every_source(sources: dict[str, Path]) -> None:
    numbers = {label: audit_numbers(config) for label, config in sources.items()}
    reference = numbers["messages"]
    assert reference["conversations"] == 16 and reference["errors"] == []
    assert reference["stop_rate"]["tool_call"]["rate"] == 1.0
    assert numbers == {label: reference for label in sources}


def test_audit_in_two_processes_and_on_a_sample(sources: dict[str, Path]) -> None:
    whole = audit_numbers(sources["parquet"])
    assert audit_numbers(sources["parquet"], "-j", "2") == whole
    sampled = audit_numbers(sources["json"], "--sample", "5", "--seed", "3")
    assert sampled["conversations"] == 5
    assert audit_numbers(sources["json"], "--sample", "5", "--seed", "3") == sampled


def test_show_trains_the_same_tokens_for_every_source(sources: dict[str, Path]) -> None:
    views = {}
    for label, config in sources.items():
        code, out, err = run("show", str(config), "--index", "3", "--no-color")
        assert code == 0, err
        title, setting, *body = out.splitlines()
        assert "row 3" in title and setting.startswith(f"setting:       {config}: ")
        assert len(body) > 10
        views[label] = body
    assert all(view == views["messages"] for view in views.values())
    code, out, _ = run("show", str(sources["saved"]), "--random", "2", "--seed", "1", "--no-color")
    assert code == 0 and out.count("row ") >= 2


def test_a_bad_row_is_named_and_the_rest_audited(tmp_path: Path) -> None:
    good = generate_conversations(3, seed=1)
    rows = [as_prompt_completion(c) for c in good]
    rows[1]["completion"] = []
    data = write_jsonl_rows(tmp_path / "pc.jsonl", rows)
    config = tmp_path / "c.toml"
    config.write_text(MASK + '[data]\nloss_mask = "sampled"\n', encoding="utf-8")
    code, out, err = run("audit", str(config), "--data", str(data), "--format", "json")
    assert code == 1
    assert json.loads(out)["reports"][0]["conversations"] == 3
    assert err.splitlines()[0].startswith(f"{data}:2: row 1: completion")
