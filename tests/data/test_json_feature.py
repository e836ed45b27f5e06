"""Files written by the installed `datasets` itself read as the JSONL they came from.

`datasets` 5.x stores a message list whose dicts differ in keys (an assistant message with
`tool_calls`, a tool message with `tool_call_id`) as `List(Json())`: JSON text in Arrow, decoded
only through the dataset's features. Read raw, every such message was a bare string, i.e. an
assistant message whose content is the JSON text, and `audit` counted no tool-call turn at all,
with no error. Here parquet
(`to_parquet`), a `save_to_disk` folder and the `.arrow` file inside it must give the JSONL numbers,
and a message that does not decode is a row error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lossmask.data import DataRow, DataRowError, iter_conversations, open_source
from lossmask.masks import generate_conversations, write_jsonl
from tests.cli_runner import run_cli

CONFIG = '[tokenizer]\nname = "embedded:glm-4.5-notags"\n\n[data]\nloss_mask = "sampled"\n'


def seventy_conversations() -> list[dict[str, Any]]:
    """66 one-exchange tool conversations, one two-exchange one and three plain chats: 68
    tool-call turns and 71 final turns in 70 conversations, the issue's shape."""
    conversations = generate_conversations(66, seed=3)
    conversations += generate_conversations(1, seed=4, exchanges=2)
    for n in range(3):
        conversations.append(
            {
                "messages": [
                    {"role": "user", "content": f"Say hello {n}."},
                    {"role": "assistant", "content": f"Hello {n}!"},
                ]
            }
        )
    return conversations


def as_prompt_completion(conversation: dict[str, Any]) -> dict[str, Any]:
    messages = conversation["messages"]
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {"prompt": messages[:first], "completion": messages[first:]}


def turn_counts(conversations: list[dict[str, Any]]) -> tuple[int, int]:
    """(tool-call turns, final turns), counted from the conversations themselves."""
    assistants = [m for c in conversations for m in c["messages"] if m["role"] == "assistant"]
    calls = sum(bool(m.get("tool_calls")) for m in assistants)
    return calls, len(assistants) - calls


def written_by_datasets(tmp_path: Path, jsonl: Path, cache_dir: str) -> dict[str, Path]:
    """`jsonl` loaded and written back by `datasets`: parquet, save_to_disk, the .arrow inside."""
    import datasets

    loaded = datasets.load_dataset(
        "json", data_files=str(jsonl), split="train", cache_dir=cache_dir
    )
    column = "messages" if "messages" in loaded.column_names else "completion"
    # The premise: datasets stores these heterogeneous message lists as Json.
    assert repr(loaded.features[column]) == "List(Json(decode=True))"
    out = {"parquet": tmp_path / f"{jsonl.stem}.parquet", "saved": tmp_path / f"{jsonl.stem}-saved"}
    loaded.to_parquet(str(out["parquet"]))
    loaded.save_to_disk(str(out["saved"]))
    (arrow_file,) = out["saved"].glob("*.arrow")
    out["arrow"] = tmp_path / f"{jsonl.stem}.arrow"
    shutil.copy(arrow_file, out["arrow"])
    return out


def read(path: Path, cache_dir: str) -> list[DataRow | DataRowError]:
    return list(iter_conversations(open_source(str(path), cache_dir=cache_dir)))


@pytest.mark.parametrize("shape", ["prompt/completion", "messages"])
def test_datasets_written_files_read_as_the_jsonl(
    tmp_path: Path, cache_dir: str, shape: str
) -> None:
    conversations = seventy_conversations()
    jsonl = tmp_path / "rows.jsonl"
    if shape == "messages":
        write_jsonl(conversations, jsonl)
    else:
        jsonl.write_text(
            "".join(json.dumps(as_prompt_completion(c)) + "\n" for c in conversations),
            encoding="utf-8",
        )
    expected = [item.conversation for item in read(jsonl, cache_dir) if isinstance(item, DataRow)]
    assert len(expected) == 70
    assert turn_counts(expected) == (68, 71)
    for kind, path in written_by_datasets(tmp_path, jsonl, cache_dir).items():
        items = read(path, cache_dir)
        assert [item.conversation for item in items if isinstance(item, DataRow)] == expected, kind


def audit_json(data: Path, config: Path) -> dict[str, Any]:
    result = run_cli(["audit", str(config), "--data", str(data), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    (report,) = json.loads(result.stdout)["reports"]
    return report


def test_audit_gives_the_jsonl_numbers_on_every_datasets_file(
    tmp_path: Path, cache_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", cache_dir)
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    conversations = seventy_conversations()
    jsonl = tmp_path / "pc.jsonl"
    jsonl.write_text(
        "".join(json.dumps(as_prompt_completion(c)) + "\n" for c in conversations),
        encoding="utf-8",
    )
    reference = audit_json(jsonl, config)
    stops = reference["stop_rate"]
    assert (stops["tool_call"]["turns"], stops["final"]["turns"]) == turn_counts(conversations)
    assert reference["errors"] == []
    for kind, path in written_by_datasets(tmp_path, jsonl, cache_dir).items():
        report = audit_json(path, config)
        for key in ("conversations", "samples", "trained_tokens_by_role", "stop_rate", "errors"):
            assert report[key] == reference[key], (kind, key)
        assert report["tool_calls_per_turn"] == reference["tool_calls_per_turn"], kind


def test_a_message_that_does_not_decode_is_a_row_error(tmp_path: Path, cache_dir: str) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = tmp_path / "pc.jsonl"
    rows = [as_prompt_completion(c) for c in seventy_conversations()[:5]]
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    loaded = datasets.load_dataset(
        "json", data_files=str(jsonl), split="train", cache_dir=cache_dir
    )
    table = loaded.data.table
    field = table.schema.field("completion")
    values = table.column("completion").to_pylist()
    values[3][1] = '{"role": "tool", "content": '  # cut short
    broken = pa.array(values, type=pa.list_(pa.string())).cast(field.type)
    pq.write_table(
        table.set_column(table.schema.get_field_index("completion"), field, broken),
        tmp_path / "broken.parquet",
    )
    source = open_source(str(tmp_path / "broken.parquet"), cache_dir=cache_dir)
    items = list(iter_conversations(source))
    assert [type(item).__name__ for item in items] == ["DataRow"] * 3 + ["DataRowError", "DataRow"]
    error = items[3]
    assert isinstance(error, DataRowError)
    assert error.format() == (
        f"{tmp_path / 'broken.parquet'}: row 3: completion[1]: is stored as JSON text (a datasets "
        "Json feature) that does not decode (Expecting value) (re-export the dataset with the "
        "installed datasets, or fix this value)"
    )
    # A chosen row is read the same way as a streamed one.
    (picked,) = list(iter_conversations(source, rows=[3]))
    assert picked == error
    good = [item.conversation for item in items if isinstance(item, DataRow)]
    assert turn_counts(good) == turn_counts([rows_as_conversation(r) for r in rows[:3] + rows[4:]])


def rows_as_conversation(row: dict[str, Any]) -> dict[str, Any]:
    return {"messages": row["prompt"] + row["completion"]}
