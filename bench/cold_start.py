"""Cold start of `lossmask validate one.toml` against `black --version`, side by side.

    python bench/cold_start.py --runs 15 [--config FILE] [--baseline-tree DIR] [--json out.json]

Each run starts a fresh process of each command, alternating (lossmask, black, lossmask, ...) so
both see the same machine load; the figure is the median wall-clock time of each, and their ratio
(target: <= 1.0). Both commands are the console scripts beside this interpreter; run it with the
environment the commands should import (PYTHONPATH for a source checkout). Also times
`lossmask validate` on a config with an error, which takes the full (pydantic) path, to show what
the fast path saves and that errors still come out. `--baseline-tree DIR` adds the same valid-file
command importing lossmask from another checkout (PYTHONPATH=DIR), e.g. the commit before a
change, in the same interleaved run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE.parent / "examples" / "configs" / "v2" / "glm-tools-sampled.toml"
BAD_CONFIG = '[data]\nloss_mask = "sampeld"\n'


def _script(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        sys.exit(f"{name} is not installed beside {sys.executable} (pip install {name})")
    return str(path)


def _time(command: list[str], expect: int, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        sys.exit(f"{command} exited {done.returncode}, expected {expect}: {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--baseline-tree", type=Path, help="Also time lossmask from this checkout.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()

    lossmask, black = _script("lossmask"), _script("black")
    with tempfile.TemporaryDirectory() as scratch:
        bad = Path(scratch) / "bad.toml"
        bad.write_text(BAD_CONFIG, encoding="utf-8")
        valid = [lossmask, "validate", str(args.config)]
        commands: dict[str, tuple[list[str], int, dict[str, str] | None]] = {
            "lossmask validate (valid file)": (valid, 0, None),
            "black --version": ([black, "--version"], 0, None),
            "lossmask validate (invalid file)": ([lossmask, "validate", str(bad)], 1, None),
        }
        if args.baseline_tree is not None:
            baseline = {**os.environ, "PYTHONPATH": str(args.baseline_tree.resolve())}
            commands["baseline: validate (valid file)"] = (valid, 0, baseline)
        for command, expect, env in commands.values():  # warm the page cache, not measured
            _time(command, expect, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, expect, env) in commands.items():
                times[name].append(_time(command, expect, env))

    medians = {name: statistics.median(values) for name, values in times.items()}
    black_median = medians["black --version"]
    print(f"median of {args.runs} runs each, interleaved; config {args.config.name}")
    for name, median in medians.items():
        print(f"  {name:34s} {median:.3f} s   {median / black_median:.2f}x black")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "median_s": medians}, indent=2))


if __name__ == "__main__":
    main()
