"""Handing the mask to other trainers and auditing what they built, at dataset scale.

    python bench/integrations_bench.py                          # 200,000 rows, -j 2
    python bench/integrations_bench.py --rows 20000 --small 2000 --json out.json

Side by side in one run, each figure from a fresh subprocess running the real command in-process
(`lossmask.cli.main`), so its clock and peak memory are that command's own:

- export vs audit: `lossmask export CONFIG --data D --format trl -o X.parquet -j J` against
  `lossmask audit CONFIG --data D -j J` on the same rows and config (GLM-4.5 chat template,
  `loss_mask = "sampled"`). Target: export takes at most 1.2x the audit's time.
- memory: export's peak resident set (VmHWM, this process; with -j > 1 workers are separate
  processes) and its peak anonymous memory (RssAnon, sampled every 50 ms: what the process holds
  itself, without file pages the OS may drop) on `--small` rows and on `--rows` rows, both -j 1.
  Target: anonymous memory grows by under 10% for 10x the rows.
- tokenized audit vs rendering: `lossmask audit --tokenized X.parquet --tokenizer T -j J` on the
  exported rows against `lossmask audit CONFIG --data D -j J`, which renders every conversation.
  Target: the tokenized audit is at least 5x faster.

Data: `generate_conversations(rows, seed=0)` written to parquet by `datasets` itself (its
`to_parquet`), so the messages column is the `List(Json)` that `datasets` 5.x writes. The Arrow
cache is built before any timing. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from proc_status import status_mib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The config says `"sampled"`: lossmask's schema, so every command reads it with lossmask's reader.
READER = ("--reader", "lossmask")
CONFIG = '[tokenizer]\nname = "embedded:glm-4.5-notags"\n\n[data]\nloss_mask = "sampled"\n'
EXPORT_TARGET = 1.2
MEMORY_TARGET = 0.10
TOKENIZED_TARGET = 5.0


def child(argv: list[str]) -> dict[str, Any]:
    """Run `lossmask ARGV` in this process; its time, exit code and memory."""
    from lossmask.cli import main

    peak_anon = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak_anon[0] = max(peak_anon[0], status_mib("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        main(argv, standalone_mode=False)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return {
        "seconds": seconds,
        "exit": code,
        "peak_rss_mib": status_mib("VmHWM"),
        "peak_anon_mib": max(peak_anon[0], status_mib("RssAnon")),
    }


def run(argv: list[str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", json.dumps(argv)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"lossmask {' '.join(argv)} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["exit"] != 0:
        raise SystemExit(f"lossmask {' '.join(argv)} exited {result['exit']}")
    return result


def prepare(folder: Path, rows: int) -> Path:
    import datasets

    from lossmask.masks import generate_conversations

    datasets.disable_progress_bars()
    data = folder / f"conversations-{rows}.parquet"
    datasets.Dataset.from_list(generate_conversations(rows, seed=0)).to_parquet(str(data))
    # Build the Arrow cache once, outside every timing.
    datasets.load_dataset("parquet", data_files=str(data), split="train")
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000, help="rows for the memory baseline")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    with tempfile.TemporaryDirectory(prefix="lossmask-bench-") as work:
        folder = Path(work)
        os.environ["HF_DATASETS_CACHE"] = str(folder / "hf-cache")
        config = folder / "glm.toml"
        config.write_text(CONFIG, encoding="utf-8")
        big, small = prepare(folder, args.rows), prepare(folder, args.small)
        jobs = str(args.jobs)
        results: dict[str, Any] = {}

        def export(data: Path, out: str, j: str) -> dict[str, Any]:
            return run(
                [
                    "export",
                    str(config),
                    "--data",
                    str(data),
                    "--format",
                    "trl",
                    "-o",
                    str(folder / out),
                    "-j",
                    j,
                    "--force",
                    "--reader",
                    "lossmask",
                ]
            )

        results["audit"] = run(["audit", str(config), "--data", str(big), "-j", jobs, *READER])
        results["export"] = export(big, "rows.parquet", jobs)
        results["audit_j1"] = run(["audit", str(config), "--data", str(big), "-j", "1", *READER])
        results["tokenized"] = run(
            [
                "audit",
                "--tokenized",
                str(folder / "rows.parquet"),
                "--tokenizer",
                "embedded:glm-4.5-notags",
                "-j",
                jobs,
            ]
        )
        results["export_small_j1"] = export(small, "small.parquet", "1")
        results["export_big_j1"] = export(big, "big.parquet", "1")

    export_ratio = results["export"]["seconds"] / results["audit"]["seconds"]
    export_ratio_j1 = results["export_big_j1"]["seconds"] / results["audit_j1"]["seconds"]
    speedup = results["audit"]["seconds"] / results["tokenized"]["seconds"]
    anon = (
        results["export_big_j1"]["peak_anon_mib"] / results["export_small_j1"]["peak_anon_mib"]
    ) - 1
    hwm = (
        results["export_big_j1"]["peak_rss_mib"] / results["export_small_j1"]["peak_rss_mib"]
    ) - 1
    rows = args.rows
    lines = [
        f"rows {rows} (memory baseline {args.small}), -j {args.jobs}, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"{'measurement':<44}{'seconds':>9}{'rows/s':>10}{'peak RSS':>11}{'peak anon':>11}",
    ]
    for key, title in (
        ("audit", f"audit CONFIG (renders), -j {args.jobs}"),
        ("export", f"export --format trl, -j {args.jobs}"),
        ("audit_j1", "audit CONFIG (renders), -j 1"),
        ("tokenized", f"audit --tokenized (reads ids), -j {args.jobs}"),
        ("export_small_j1", f"export, {args.small} rows, -j 1"),
        ("export_big_j1", f"export, {rows} rows, -j 1"),
    ):
        r = results[key]
        n = args.small if key == "export_small_j1" else rows
        lines.append(
            f"{title:<44}{r['seconds']:>9.2f}{n / r['seconds']:>10.0f}"
            f"{r['peak_rss_mib']:>8.1f} MiB{r['peak_anon_mib']:>8.1f} MiB"
        )
    checks = [
        (
            f"export / audit time: {export_ratio:.2f}x at -j {args.jobs}, "
            f"{export_ratio_j1:.2f}x at -j 1 (target <= {EXPORT_TARGET}x)",
            max(export_ratio, export_ratio_j1) <= EXPORT_TARGET,
        ),
        (
            f"export anonymous memory, {args.small} -> {rows} rows: {anon:+.1%} "
            f"(target < {MEMORY_TARGET:.0%}); peak RSS {hwm:+.1%}",
            anon < MEMORY_TARGET,
        ),
        (
            f"audit --tokenized vs rendering: {speedup:.1f}x faster "
            f"(target >= {TOKENIZED_TARGET}x)",
            speedup >= TOKENIZED_TARGET,
        ),
    ]
    lines += [("ok   " if good else "MISS ") + text for text, good in checks]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "small": args.small,
                    "jobs": args.jobs,
                    "load_average": os.getloadavg(),
                    "results": results,
                    "export_over_audit": export_ratio,
                    "export_over_audit_j1": export_ratio_j1,
                    "anon_growth": anon,
                    "rss_growth": hwm,
                    "tokenized_speedup": speedup,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0 if all(good for _, good in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
