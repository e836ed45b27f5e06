"""Where `lossmask export` holds its anonymous memory, phase by phase (a probe, not a target).

    python bench/export_memory.py --rows 200000                        # parquet, as export runs
    python bench/export_memory.py --rows 200000 --write-pool default   # the write on mimalloc
    python bench/export_memory.py --rows 200000 --pool system     # glibc malloc as Arrow's default
    python bench/export_memory.py --rows 200000 --output arrow    # an Arrow stream, not parquet
    python bench/export_memory.py --rows 200000 --no-dictionary   # parquet without dictionaries

Runs `lossmask export --format trl -j 1` in this process (embedded GLM-4.5 template without
tags, `"sampled"`) on synthetic conversations written once as parquet by `datasets` (as
bench/integrations_bench.py does), and prints the resident anonymous memory (RssAnon) every 40
batches of the tokenising `datasets.map` and every 50 record batches of the write (with the bytes
Arrow's default pool holds live), and the peak sampled every 50 ms. The write phase allocates from
jemalloc with pages returned at once (`export._write_pool`); `--write-pool default` puts it back
on Arrow's default (mimalloc), which keeps freed pages resident at this churn
(`MIMALLOC_PURGE_DELAY=0` in the environment removes that). bench/integrations_bench.py compares
the peaks of 20,000 and 200,000 rows; this says which phase a difference comes from.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# The bench this probe explains: its config and its data (written by `datasets` as there).
from integrations_bench import CONFIG, prepare
from proc_status import status_mib

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def anon_mib() -> float:
    return status_mib("RssAnon")


def instrument(log: list[str], started: float) -> None:
    """Log RssAnon from inside the two phases (the functions export calls per batch)."""
    tokenize: Any = importlib.import_module("lossmask.integrations.tokenize")
    export: Any = importlib.import_module("lossmask.integrations.export")

    def every(n: int, phase: str, function: Any) -> Any:
        calls = [0]

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] % n == 0:
                elapsed = time.perf_counter() - started
                live = pa.total_allocated_bytes() / 2**20
                log.append(
                    f"{elapsed:7.1f} s  {phase:<6} batch {calls[0]:>5}  {anon_mib():7.1f} MiB"
                    f"  (Arrow's default pool holds {live:6.1f} MiB)"
                )
            return function(*args, **kwargs)

        return wrapped

    import pyarrow as pa

    tokenize._map_dataset_batch = every(40, "map", tokenize._map_dataset_batch)
    export._count = every(50, "write", export._count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--pool", choices=["default", "system"], default="default")
    parser.add_argument("--write-pool", choices=["export", "default"], default="export")
    parser.add_argument("--output", choices=["parquet", "arrow"], default="parquet")
    parser.add_argument("--no-dictionary", action="store_true")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)  # the child's job
    options = parser.parse_args()
    if options.prepare is not None:
        os.environ["HF_DATASETS_CACHE"] = str(options.prepare / "hf-cache")
        prepare(options.prepare, options.rows)
        return 0

    with tempfile.TemporaryDirectory(prefix="lossmask-memory-") as work:
        folder = Path(work)
        # The data is written by a child process, so this one holds none of it.
        child = [sys.executable, __file__, "--rows", str(options.rows), "--prepare", str(folder)]
        subprocess.run(child, check=True)
        os.environ["HF_DATASETS_CACHE"] = str(folder / "hf-cache")
        data = folder / f"conversations-{options.rows}.parquet"
        import pyarrow as pa
        import pyarrow.parquet as pq

        if options.pool == "system":
            pa.set_memory_pool(pa.system_memory_pool())
        if options.write_pool == "default":
            export: Any = importlib.import_module("lossmask.integrations.export")
            export._write_pool = pa.default_memory_pool
        if options.no_dictionary:
            writer = pq.ParquetWriter

            class NoDictionary(writer):  # type: ignore[misc, valid-type]
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    kwargs.setdefault("use_dictionary", False)
                    super().__init__(*args, **kwargs)

            pq.ParquetWriter = NoDictionary
        log: list[str] = []
        peak = [0.0]

        def sample() -> None:
            while True:
                peak[0] = max(peak[0], anon_mib())
                time.sleep(0.05)

        threading.Thread(target=sample, daemon=True).start()
        config = folder / "glm.toml"
        config.write_text(CONFIG, encoding="utf-8")
        before = anon_mib()
        instrument(log, time.perf_counter())
        from lossmask.cli import main as cli

        out = folder / f"rows.{options.output}"
        argv = ["export", str(config), "--data", str(data), "--format", "trl", "-o", str(out)]
        try:
            cli([*argv, "-j", "1", "--reader", "lossmask"], standalone_mode=False)
        except SystemExit as stop:
            if stop.code:
                return int(stop.code)
        print(
            f"export of {options.rows} rows to {options.output}, Arrow's default pool "
            f"{options.pool}, the write on {options.write_pool}'s pool"
        )
        print(f"{'':>9}  before the export {before:7.1f} MiB")
        print("\n".join(log))
        print(f"peak {max(peak[0], anon_mib()):.1f} MiB, at the end {anon_mib():.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
