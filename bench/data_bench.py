"""Reading and auditing at dataset scale: the reader against bare `datasets`, memory, and `-j`.

    python bench/data_bench.py                      # 200k-row parquet, 20k-row audits
    python bench/data_bench.py --rows 50000 --audit-rows 5000 --json out.json

Side by side in one run, each figure from a fresh subprocess (so peak memory is that run's own):

- read: `lossmask.data` (open_source + iter_conversations, every row normalised) over a parquet
  of `generate_conversations` rows, against a bare `datasets.load_dataset("parquet")` iteration
  of the same file (`for row in dataset`). Target: the reader takes at most 1.2x the bare time.
- memory: the reader's peak resident set (VmHWM) on the first 20k rows and on all 200k rows of
  the same data. Target: it grows by under 10%.
- audit: `audit_conversations` driven by `map_chunks` over the same parquet, `-j 1` and `-j 2`,
  against a bare render (`mask_conversation` over rows already in memory). Targets: `-j 2` at
  least 1.7x `-j 1`; `-j 1` at least 90% of the bare render's rows/s. The merged `-j 2` report
  must equal the `-j 1` report.

Loading (building the Arrow cache) happens once before any timing and is not timed. Exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from proc_status import status_mib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@functools.cache
def _backend(renderer: str | None) -> Any:
    from lossmask.masks import load_backend

    return load_backend(renderer=renderer)


def audit_chunk(items: Iterable[Any], renderer: str | None = None) -> Any:
    """One chunk's audit report, its totals left open (what `audit -j N` runs in each worker)."""
    from lossmask.masks.app.audit import audit_conversations

    return audit_conversations(items, "sampled", _backend(renderer), finish=False)


def merge_reports(reports: list[Any]) -> Any:
    """Chunk reports added up in chunk order, as `lossmask audit -j N` adds them."""
    from lossmask.masks import coerce_loss_mask

    total = reports[0]
    for report in reports[1:]:
        total.merge(report)
    total.stats.finish(coerce_loss_mask("sampled"))
    return total


def measure(
    kind: str, path: str, cache_dir: str, jobs: int, renderer: str | None
) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    from lossmask.data import DataRow, iter_conversations, map_chunks, open_source

    result: dict[str, Any] = {"kind": kind, "jobs": jobs}
    if kind == "bare":
        import datasets

        datasets.disable_progress_bars()
        dataset = datasets.load_dataset(
            "parquet", data_files=[path], split="train", cache_dir=cache_dir
        )
        result["start_rss_mib"] = status_mib("VmHWM")
        start = time.perf_counter()
        rows = sum(1 for _ in dataset)
    elif kind == "read":
        source = open_source(path, cache_dir=cache_dir)
        result["start_rss_mib"] = status_mib("VmHWM")
        start = time.perf_counter()
        rows = sum(isinstance(item, DataRow) for item in iter_conversations(source))
    elif kind == "render":
        from lossmask.masks import mask_conversation

        source = open_source(path, cache_dir=cache_dir)
        conversations = [
            i.conversation for i in iter_conversations(source) if isinstance(i, DataRow)
        ]
        backend = _backend(renderer)
        result["start_rss_mib"] = status_mib("VmHWM")
        start = time.perf_counter()
        for conversation in conversations:
            mask_conversation(conversation, "sampled", backend)
        rows = len(conversations)
    else:  # audit
        source = open_source(path, cache_dir=cache_dir)
        _backend(renderer)  # loaded once here; forked workers inherit it
        result["start_rss_mib"] = status_mib("VmHWM")
        start = time.perf_counter()
        chunk = functools.partial(audit_chunk, renderer=renderer)
        report = merge_reports(list(map_chunks(source, chunk, jobs=jobs)))
        rows = report.conversations
        result["report"] = report.to_json()
    seconds = time.perf_counter() - start
    peak = status_mib("VmHWM")
    result.update(rows=rows, seconds=seconds, rows_per_s=rows / seconds, peak_rss_mib=peak)
    return result


def run(
    kind: str, path: Path, cache_dir: str, jobs: int = 1, renderer: str | None = None
) -> dict[str, Any]:
    argv = [
        sys.executable,
        __file__,
        "--measure",
        kind,
        "--file",
        str(path),
        "--cache-dir",
        cache_dir,
    ]
    argv += ["--jobs", str(jobs)] + (["--renderer", renderer] if renderer else [])
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"  {kind:<7} -j {jobs}  {Path(path).name:<22} {result['rows']:>8} rows  "
        f"{result['seconds']:7.2f} s  {result['rows_per_s']:9.0f} rows/s  "
        f"peak RSS {result['peak_rss_mib']:7.1f} MiB",
        flush=True,
    )
    return result


def write_parquets(workdir: Path, rows: int, small: int, audit_rows: int) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lossmask.masks.assets.synthetic import generate_conversations

    paths = {
        name: workdir / f"synthetic-{n}.parquet"
        for name, n in (("big", rows), ("small", small), ("audit", audit_rows))
    }
    if all(path.exists() for path in paths.values()):
        return paths
    conversations = generate_conversations(rows, seed=0)  # a prefix of it is the smaller files
    for name, n in (("big", rows), ("small", small), ("audit", audit_rows)):
        pq.write_table(pa.Table.from_pylist(conversations[:n]), paths[name])
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000, help="rows of the memory baseline")
    parser.add_argument("--audit-rows", type=int, default=20_000)
    parser.add_argument(
        "--renderer", default=None, help="audit through this renderer (default: chat template)"
    )
    parser.add_argument("--workdir", default=None, help="keep the parquet files and cache here")
    parser.add_argument("--skip-audit", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(
            json.dumps(measure(args.measure, args.file, args.cache_dir, args.jobs, args.renderer))
        )
        return 0

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lossmask-data-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cache_dir = str(workdir / "cache")
    paths = write_parquets(workdir, args.rows, args.small, args.audit_rows)
    from lossmask.data import open_source

    for path in paths.values():  # build the Arrow caches now, untimed
        open_source(str(path), cache_dir=cache_dir)
    print(f"data bench in {workdir}")
    results: dict[str, Any] = {}
    results["bare"] = run("bare", paths["big"], cache_dir)
    results["read"] = run("read", paths["big"], cache_dir)
    results["read_small"] = run("read", paths["small"], cache_dir)
    read_ratio = results["read"]["seconds"] / results["bare"]["seconds"]
    growth = results["read"]["peak_rss_mib"] / results["read_small"]["peak_rss_mib"] - 1
    checks = {
        f"reader time / bare datasets time = {read_ratio:.2f} (target <= 1.2)": read_ratio <= 1.2,
        f"reader peak RSS {args.small} -> {args.rows} rows: {growth:+.1%} (target < 10%)": growth
        < 0.10,
    }
    if not args.skip_audit:
        results["render"] = run("render", paths["audit"], cache_dir, renderer=args.renderer)
        results["audit_j1"] = run("audit", paths["audit"], cache_dir, 1, args.renderer)
        results["audit_j2"] = run("audit", paths["audit"], cache_dir, 2, args.renderer)
        speedup = results["audit_j2"]["rows_per_s"] / results["audit_j1"]["rows_per_s"]
        of_render = results["audit_j1"]["rows_per_s"] / results["render"]["rows_per_s"]
        same = results["audit_j1"]["report"] == results["audit_j2"]["report"]
        checks[f"audit -j 2 / -j 1 = {speedup:.2f}x (target >= 1.7)"] = speedup >= 1.7
        checks[f"audit -j 1 / bare render = {of_render:.0%} (target >= 90%)"] = of_render >= 0.9
        checks["audit -j 2 report equals -j 1 report"] = same
    for line, ok in checks.items():
        print(f"{'ok  ' if ok else 'MISS'} {line}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
