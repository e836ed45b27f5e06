"""Fixtures for the data readers: a private `datasets` cache and small files in every format."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("datasets")


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    """A `datasets` cache of this test's own, so tests never share or pollute one."""
    return str(tmp_path / "hf-datasets-cache")


def write_jsonl_rows(path: Path, rows: Iterable[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
