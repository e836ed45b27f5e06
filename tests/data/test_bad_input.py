"""Bad data, as a user meets it: each message exactly, naming the source, row and (JSONL) line;
bad rows are reported in their place and the other rows and files are still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossmask.data import (
    DataError,
    DataRow,
    DataSpec,
    iter_conversations,
    open_source,
)
from tests.data.conftest import write_jsonl_rows, write_parquet_rows

GOOD = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}
PC = {"prompt": "Hi", "completion": "Yo"}


def read_errors(path: Path, cache_dir: str) -> list[str | int]:
    """Per row: the error line, or the row index of a good row."""
    source = open_source(str(path), cache_dir=cache_dir)
    return [
        item.index if isinstance(item, DataRow) else item.format()
        for item in iter_conversations(source)
    ]


def test_parquet_with_no_conversation_columns(tmp_path: Path, cache_dir: str) -> None:
    path = write_parquet_rows(tmp_path / "plain.parquet", [{"text": "a", "label": 1}])
    with pytest.raises(DataError) as caught:
        open_source(str(path), cache_dir=cache_dir)
    assert [error.format() for error in caught.value.errors] == [
        f'{path}: has no "messages" column, no "prompt" and "completion" columns and no ShareGPT '
        '"conversations" column (its columns: text, label) (give each row a "messages" list, '
        '"prompt" and "completion" columns, or ShareGPT "conversations")'
    ]


def test_empty_completion_is_reported_with_line_and_the_rest_go_on(
    tmp_path: Path, cache_dir: str
) -> None:
    path = tmp_path / "pc.jsonl"
    path.write_text(
        json.dumps(PC)
        + "\n\n"
        + json.dumps({"prompt": "Hi", "completion": ""})
        + "\n"
        + json.dumps(PC)
        + "\n"
    )
    assert read_errors(path, cache_dir) == [
        0,
        f"{path}:3: row 1: completion: is empty, so the row has nothing to train "
        "(give the assistant's reply, or drop the row)",
        2,
    ]


def test_tools_column_that_is_not_json(tmp_path: Path, cache_dir: str) -> None:
    tools = json.dumps([{"type": "function", "function": {"name": "f"}}])
    rows = [{**GOOD, "tools": tools}, {**GOOD, "tools": "f(city)"}, {**GOOD, "tools": tools}]
    path = write_parquet_rows(tmp_path / "tools.parquet", rows)
    assert read_errors(path, cache_dir) == [
        0,
        f"{path}: row 1: tools: is not valid JSON (Expecting value at column 1) "
        "(write a list of tool definitions, or a JSON-encoded string of one)",
        2,
    ]


def test_sharegpt_from_with_no_role(tmp_path: Path, cache_dir: str) -> None:
    good = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}
    bad = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "bot", "value": "Yo"}]}
    path = write_jsonl_rows(tmp_path / "sharegpt.jsonl", [good, bad])
    assert read_errors(path, cache_dir) == [
        0,
        f'{path}:2: row 1: conversations[1].from: "bot" maps to no role (known: system, human, '
        "user, gpt, assistant, model, tool, function, observation, function_call)",
    ]


def test_invalid_json_line_is_one_row_error(tmp_path: Path, cache_dir: str) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GOOD) + '\n{"messages": [\n' + json.dumps(GOOD) + "\n")
    assert read_errors(path, cache_dir) == [
        0,
        f"{path}:2: row 1: invalid JSON: Expecting value (column 15) "
        "(each line must be one JSON object)",
        2,
    ]


def test_mixed_schemas_across_data_files(tmp_path: Path, cache_dir: str) -> None:
    first = write_jsonl_rows(tmp_path / "a.jsonl", [GOOD, GOOD])
    second = write_jsonl_rows(tmp_path / "b.jsonl", [PC])
    source = open_source(
        DataSpec("json", data_files=(str(first), str(second))), cache_dir=cache_dir
    )
    assert [error.format() for error in source.problems] == [
        f"{second}: holds prompt/completion rows, but {first} (the first file of this split) holds "
        "messages rows (every data file of one split needs the same columns, as datasets loads "
        "them as one table; convert the files to one format)"
    ]
    assert [item.ref.source for item in iter_conversations(source)] == [str(first)] * 2


def test_zero_row_split_is_reported_and_other_splits_read(tmp_path: Path, cache_dir: str) -> None:
    import datasets

    folder = tmp_path / "saved"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([GOOD, GOOD]),
            "test": datasets.Dataset.from_list([GOOD]).select([]),
        }
    ).save_to_disk(str(folder))
    source = open_source(DataSpec(str(folder), splits=("train", "test")), cache_dir=cache_dir)
    assert [error.format() for error in source.problems] == [
        f"{folder}[test]: has no rows (nothing to read here)"
    ]
    assert len(source) == 2


def test_empty_parquet_file(tmp_path: Path, cache_dir: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"messages": pa.array([], type=pa.list_(pa.string()))}), path)
    with pytest.raises(DataError) as caught:
        open_source(str(path), cache_dir=cache_dir)
    assert str(caught.value) == f"{path}: has no rows (nothing to read here)"


def test_corrupt_parquet_file(tmp_path: Path, cache_dir: str) -> None:
    good = write_parquet_rows(tmp_path / "good.parquet", [GOOD])
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(good.read_bytes()[:-40])
    source = open_source(
        DataSpec("parquet", data_files=(str(good), str(corrupt))), cache_dir=cache_dir
    )
    assert [error.format() for error in source.problems] == [
        f"{corrupt}: is not a readable parquet file (Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file.) "
        "(check that the file is complete; re-export it if it was cut short)"
    ]
    assert len(source) == 1


def test_hub_id_not_in_the_cache(cache_dir: str) -> None:
    with pytest.raises(DataError) as caught:
        open_source("someone/not-cached", cache_dir=cache_dir)
    assert str(caught.value) == (
        "someone/not-cached: is not a local path and is not in the local Hugging Face cache "
        f"({cache_dir}) (download it once where there is network "
        "(datasets.load_dataset('someone/not-cached')), or give a local path)"
    )


def test_missing_local_path(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        open_source(str(tmp_path / "nope.jsonl"))
    assert str(caught.value) == f"{tmp_path / 'nope.jsonl'}: no such file or directory"


def test_unsupported_split_with_data_files(tmp_path: Path, cache_dir: str) -> None:
    path = write_jsonl_rows(tmp_path / "a.jsonl", [GOOD])
    spec = DataSpec("json", splits=("train", "test"), data_files=(str(path),))
    source = open_source(spec, cache_dir=cache_dir)
    assert [error.format() for error in source.problems] == [
        'json: has no split "test": data_files make one split, "train" '
        "(drop data.splits, or list only one split's files)"
    ]


def test_data_files_that_are_missing_or_of_another_builder(tmp_path: Path, cache_dir: str) -> None:
    good = write_jsonl_rows(tmp_path / "a.jsonl", [GOOD])
    parquet = write_parquet_rows(tmp_path / "b.parquet", [GOOD])
    missing = str(tmp_path / "gone.jsonl")
    spec = DataSpec("json", data_files=(str(good), missing, str(parquet)))
    source = open_source(spec, cache_dir=cache_dir)
    assert [error.format() for error in source.problems] == [
        f"{missing}: matches no file (data.data_files)",
        f'{parquet}: is a parquet file, but data.name is "json" '
        '(write name = "parquet", as load_dataset needs)',
    ]
    assert len(source) == 1
