"""`map_files`: results in order for any number of workers, and workers that start on the first
files while discovery is still finding the rest."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from lossmask.migrate.runner import PARALLEL_THRESHOLD, FileResult, map_files


def _where(item: str) -> FileResult:
    """A result that says which process made it; the first one made leaves a marker file."""
    marker = Path(item).parent / "started"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
    return FileResult(item, "unchanged", target=str(os.getpid()))


def _items(directory: Path, count: int) -> list[str]:
    return [str(directory / f"{index}.toml") for index in range(count)]


def test_results_keep_the_order_of_a_generator_for_any_number_of_workers(tmp_path: Path) -> None:
    items = _items(tmp_path, 300)
    seen: list[str] = []
    for jobs in (1, 2, 3):
        seen.clear()
        results = map_files(_where, iter(items), jobs, on_result=lambda r: seen.append(r.path))
        assert [result.path for result in results] == items
        assert seen == items
        pids = {result.target for result in results}
        if jobs == 1:
            assert pids == {str(os.getpid())}
        else:
            assert str(os.getpid()) not in pids and 1 <= len(pids) <= jobs


def test_workers_start_before_the_items_are_all_found(tmp_path: Path) -> None:
    items = _items(tmp_path, 200)
    marker = tmp_path / "started"
    waited: list[bool] = []

    def slow_discovery() -> Iterator[str]:
        yield from items[:64]  # one full batch
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        waited.append(marker.exists())  # a worker has begun while this generator waits
        yield from items[64:]

    results = map_files(_where, slow_discovery(), 2)
    assert waited == [True]
    assert marker.read_text() != str(os.getpid())
    assert [result.path for result in results] == items


def test_meanwhile_runs_once_every_item_is_handed_out(tmp_path: Path) -> None:
    items = _items(tmp_path, 150)
    handed: list[str] = []
    when: list[int] = []

    def discovery() -> Iterator[str]:
        for item in items:
            handed.append(item)
            yield item

    for jobs in (1, 2):
        handed.clear()
        when.clear()
        map_files(_where, discovery(), jobs, meanwhile=lambda: when.append(len(handed)))
        assert when == [len(items)]


def test_without_jobs_a_generator_is_counted_before_workers_are_chosen(tmp_path: Path) -> None:
    few = map_files(_where, iter(_items(tmp_path, PARALLEL_THRESHOLD - 1)), None)
    assert {result.target for result in few} == {str(os.getpid())}  # too few for a pool
    if (os.cpu_count() or 1) > 1:
        many = _items(tmp_path, (os.cpu_count() or 1) * PARALLEL_THRESHOLD)
        assert str(os.getpid()) not in {result.target for result in map_files(_where, many, None)}
