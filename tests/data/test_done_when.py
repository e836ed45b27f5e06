"""Issue 10's done-when, for the reader: a prime-rl-style `[data]` over prompt/completion JSONL with
string tool arguments, the same rows as parquet and as a `save_to_disk` folder, all read as the
conversations of the `messages` JSONL they were made from."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from lossmask.data import DataRow, data_spec, iter_conversations, open_source
from lossmask.masks import generate_conversations, write_jsonl
from lossmask.schema import load_config
from tests.data.conftest import write_jsonl_rows, write_parquet_rows


def as_prompt_completion(conversation: dict[str, Any]) -> dict[str, Any]:
    """Split before the first assistant turn; tools as a JSON string, as many hub datasets have."""
    messages = conversation["messages"]
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {
        "prompt": messages[:first],
        "completion": messages[first:],
        "tools": json.dumps(conversation["tools"]),
    }


def expected(conversation: dict[str, Any]) -> dict[str, Any]:
    """The canonical form, computed here: tool-call arguments parsed, nothing else changed."""
    messages = []
    for message in conversation["messages"]:
        message = dict(message)
        if "tool_calls" in message:
            message["tool_calls"] = [
                {
                    **call,
                    "function": {
                        **call["function"],
                        "arguments": json.loads(call["function"]["arguments"]),
                    },
                }
                for call in message["tool_calls"]
            ]
        messages.append(message)
    return {"messages": messages, "tools": conversation["tools"]}


def read_config(path: Path, cache_dir: str) -> list[dict[str, Any]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = load_config(path, version=2)
    # subsets, splits and data_files are modelled keys: the only warning is the v2 meaning one.
    assert all("no loss_mask" in str(warning.message) for warning in caught), caught
    spec = data_spec(config.data, file=str(path))
    assert spec is not None
    items = list(iter_conversations(open_source(spec, cache_dir=cache_dir)))
    assert all(isinstance(item, DataRow) for item in items), items
    return [item.conversation for item in items if isinstance(item, DataRow)]


def test_every_format_reads_as_the_messages_jsonl(
    tmp_path: Path, cache_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    monkeypatch.chdir(tmp_path)  # prime-rl resolves data_files against the working directory
    conversations = generate_conversations(12, seed=7, exchanges=2, reasoning_rate=0.5)
    assert any(
        isinstance(call["function"]["arguments"], str)
        for c in conversations
        for m in c["messages"]
        for call in m.get("tool_calls", [])
    )
    write_jsonl(conversations, tmp_path / "messages.jsonl")
    rows = [as_prompt_completion(c) for c in conversations]
    write_jsonl_rows(tmp_path / "pc.jsonl", rows)
    write_parquet_rows(tmp_path / "pc.parquet", rows)
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "pc-saved"))
    configs = {
        "messages": '[data]\nname = "messages.jsonl"\n',
        "json": '[data]\nname = "json"\ndata_files = ["pc.jsonl"]\nloss_mask = "sampled"\n',
        "parquet": '[data]\nname = "parquet"\ndata_files = ["pc.parquet"]\n',
        "saved": '[data]\nname = "pc-saved"\n',
    }
    reads = {}
    for label, text in configs.items():
        path = tmp_path / f"{label}.toml"
        path.write_text(text)
        reads[label] = read_config(path, cache_dir)
    reference = [expected(c) for c in conversations]
    assert reads == {label: reference for label in configs}
