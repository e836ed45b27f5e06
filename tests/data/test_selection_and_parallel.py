"""Row selection (`--index`, `--random`, `--sample`), reading across parts, `map_chunks` in worker
processes, folder splits, and how prime-rl's `[data]` keys become a spec."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import pytest

from lossmask.data import (
    DataError,
    DataRow,
    DataSpec,
    data_spec,
    iter_conversations,
    map_chunks,
    open_data,
    open_source,
    sample_rows,
    select_rows,
)
from lossmask.data.source import Item
from lossmask.errors import ConfigError
from tests.data.conftest import write_jsonl_rows, write_parquet_rows


def conversation(n: int) -> dict[str, object]:
    return {
        "messages": [
            {"role": "user", "content": f"q{n}"},
            {"role": "assistant", "content": f"a{n}"},
        ]
    }


def two_files(tmp_path: Path) -> DataSpec:
    first = write_jsonl_rows(tmp_path / "a.jsonl", [conversation(n) for n in range(5)])
    second = write_jsonl_rows(tmp_path / "b.jsonl", [conversation(n) for n in range(5, 12)])
    return DataSpec("json", data_files=(str(first), str(second)))


def test_rows_are_numbered_across_files_and_refs_name_each_file(tmp_path: Path) -> None:
    source = open_source(two_files(tmp_path))
    assert len(source) == 12
    items = [
        item for item in iter_conversations(source, rows=[11, 0, 5, 4]) if isinstance(item, DataRow)
    ]
    assert [(item.index, item.ref.format()) for item in items] == [
        (0, f"{tmp_path / 'a.jsonl'}:1: row 0"),
        (4, f"{tmp_path / 'a.jsonl'}:5: row 4"),
        (5, f"{tmp_path / 'b.jsonl'}:1: row 0"),
        (11, f"{tmp_path / 'b.jsonl'}:7: row 6"),
    ]
    assert [item.conversation["messages"][0]["content"] for item in items] == [
        "q0",
        "q4",
        "q5",
        "q11",
    ]


def test_sample_rows_is_seeded_distinct_and_bounded() -> None:
    first = sample_rows(1000, 10, seed=3)
    assert first == sample_rows(1000, 10, seed=3)
    assert first != sample_rows(1000, 10, seed=4)
    assert first == sorted(set(first)) and len(first) == 10 and all(0 <= i < 1000 for i in first)
    assert sample_rows(5, 10, seed=0) == [0, 1, 2, 3, 4]


def test_select_rows_for_show_and_audit(tmp_path: Path) -> None:
    source = open_source(two_files(tmp_path))
    assert select_rows(source, index=3) == [3]
    assert select_rows(source, index=-1) == [11]
    assert select_rows(source, random_rows=4, seed=1) == sample_rows(12, 4, seed=1)
    assert select_rows(source) == list(range(12))
    with pytest.raises(ValueError) as caught:
        select_rows(source, index=12)
    assert (
        str(caught.value) == "--index 12 is out of range: json data_files (2 patterns) has 12 rows"
    )
    with pytest.raises(ValueError) as caught:
        select_rows(source, index=1, random_rows=2)
    assert str(caught.value) == "give --index or --random, not both"


def first_contents(items: Iterable[Item]) -> list[str]:
    """A chunk function: the first message of every good row (top level, so workers can use it)."""
    return [
        item.conversation["messages"][0]["content"] for item in items if isinstance(item, DataRow)
    ]


def test_map_chunks_in_workers_matches_one_process(tmp_path: Path) -> None:
    source = open_source(two_files(tmp_path))
    one = [c for chunk in map_chunks(source, first_contents, jobs=1) for c in chunk]
    two = [c for chunk in map_chunks(source, first_contents, jobs=2, chunk_rows=3) for c in chunk]
    assert one == two == [f"q{n}" for n in range(12)]
    sampled = map_chunks(source, first_contents, jobs=2, rows=[9, 2, 6], chunk_rows=2)
    assert [c for chunk in sampled for c in chunk] == ["q2", "q6", "q9"]


def test_map_chunks_over_a_parquet_in_spawned_workers(tmp_path: Path, cache_dir: str) -> None:
    path = write_parquet_rows(tmp_path / "rows.parquet", [conversation(n) for n in range(7)])
    source = open_source(str(path), cache_dir=cache_dir)
    chunks = map_chunks(
        source, functools.partial(first_contents), jobs=2, chunk_rows=2, start_method="spawn"
    )
    assert [c for chunk in chunks for c in chunk] == [f"q{n}" for n in range(7)]


def test_folder_splits_follow_file_names(tmp_path: Path, cache_dir: str) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    write_jsonl_rows(folder / "train.jsonl", [conversation(0), conversation(1)])
    write_parquet_rows(folder / "test.parquet", [conversation(9)])
    test = open_source(DataSpec(str(folder), splits=("test",)), cache_dir=cache_dir)
    assert [item.ref.format() for item in iter_conversations(test)] == [
        f"{folder / 'test.parquet'}: row 0"
    ]
    train = open_source(str(folder), cache_dir=cache_dir)
    assert len(train) == 2
    missing = open_source(
        DataSpec(str(folder), splits=("train", "validation")), cache_dir=cache_dir
    )
    assert [e.format() for e in missing.problems] == [
        f'{folder}: has no split "validation" (its splits: test, train)'
    ]


def test_subsets_and_splits_pair_as_prime_rl_pairs_them() -> None:
    assert DataSpec("d").subsets_and_splits() == [(None, "train")]
    assert DataSpec("d", subsets=("a", "b")).subsets_and_splits() == [
        ("a", "train"),
        ("b", "train"),
    ]
    assert DataSpec("d", splits=("x", "y")).subsets_and_splits() == [(None, "x"), (None, "y")]
    assert DataSpec("d", subsets=("a", "b"), splits=("x", "y")).subsets_and_splits() == [
        ("a", "x"),
        ("b", "y"),
    ]


def test_data_spec_reads_the_data_table_and_the_data_flag() -> None:
    table = {"name": "org/set", "subsets": ["a", "b"], "splits": ["train", "test"]}
    assert data_spec(table) == DataSpec("org/set", subsets=("a", "b"), splits=("train", "test"))
    assert data_spec({"name": "json", "data_files": "x.jsonl"}) == DataSpec(
        "json", data_files=("x.jsonl",)
    )
    assert data_spec(table, "local.parquet") == DataSpec("local.parquet")
    assert data_spec({"loss_mask": "sampled"}) is None
    with pytest.raises(ConfigError) as caught:
        data_spec({"name": "org/set", "subsets": ["a", "b"], "splits": ["train"]}, file="c.toml")
    assert str(caught.value) == (
        "c.toml: data.splits: has 1 entries but data.subsets has 2 "
        "(give one split per subset; split i is read from subset i)"
    )
    with pytest.raises(ConfigError) as caught:
        data_spec({"name": "json", "data_files": [1]}, file="c.toml")
    assert str(caught.value) == "c.toml: data.data_files: must be a non-empty array of strings"


def test_open_data_takes_the_flag_over_the_config(tmp_path: Path) -> None:
    flag = write_jsonl_rows(tmp_path / "flag.jsonl", [conversation(1)])
    configured = write_jsonl_rows(tmp_path / "config.jsonl", [conversation(2), conversation(3)])
    from_flag = open_data({"name": str(configured)}, str(flag))
    from_config = open_data({"name": str(configured)})
    assert from_flag is not None and from_config is not None
    assert (len(from_flag), len(from_config)) == (1, 2)
    assert open_data({"seq_len": 512}) is None


def test_progress_bar_counts_rows_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lossmask.data.progress import progress_bar

    source = open_source(two_files(tmp_path))
    with progress_bar(len(source), "reading", enabled=True) as bar:
        for _ in iter_conversations(source):
            bar.update(1)
    err = capsys.readouterr().err
    assert "reading" in err and "12/12" in err and "rows/s" in err


def test_json_array_file_and_empty_jsonl(tmp_path: Path, cache_dir: str) -> None:
    import json

    array = tmp_path / "rows.json"
    array.write_text(json.dumps([conversation(0), conversation(1)]))
    items = list(iter_conversations(open_source(str(array), cache_dir=cache_dir)))
    assert [item.conversation for item in items if isinstance(item, DataRow)] == [
        conversation(0),
        conversation(1),
    ]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataError) as caught:
        open_source(str(empty))
    assert str(caught.value) == f"{empty}: has no rows (nothing to read here)"


def test_sharded_save_to_disk_streams_in_order(tmp_path: Path, cache_dir: str) -> None:
    import datasets

    rows = [conversation(n) for n in range(20)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"), num_shards=3)
    source = open_source(str(tmp_path / "saved"), cache_dir=cache_dir)
    assert len(source.parts[0].dataset.cache_files) == 3
    assert [
        item.conversation for item in iter_conversations(source) if isinstance(item, DataRow)
    ] == rows
    chunks = map_chunks(source, first_contents, jobs=2, chunk_rows=6)
    assert [c for chunk in chunks for c in chunk] == [f"q{n}" for n in range(20)]


def test_importing_lossmask_data_does_not_import_datasets() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, lossmask.data; "
        "heavy = {'datasets', 'pyarrow', 'torch'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
