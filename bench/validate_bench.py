"""Benchmark `lossmask validate` on big files against a bare `tomllib` parse, side by side.

    python bench/validate_bench.py --mb 50 --repeat 1

For each shape of a --mb sized file, in one run, each command in its own process (wall clock,
best of --repeat, and peak memory as max RSS): `python -m lossmask validate FILE` against
`python -c "tomllib.loads(open(FILE).read())"`. Targets (issue 18): validate within 2x the
parse's time and 1.5x its peak memory.

Shapes (every one a legacy config, so each run also reports the "no loss_mask" warning):

- `long-prompts`: a small config and `[[eval.source]]` tables embedding long prompts (the big
  file of `bench/migrate_bench.py`); settled by the quick check;
- `many-tables`: ~800k small tables under a key lossmask does not model: the unknown-key warning
  takes the full check, with the pydantic models;
- `many-tables-error-at-end`: the same with an invalid value on the last line, which the message
  must place (the line search runs to the end of the file).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from migrate_bench import DATA, HEADER, big_config

REPO = Path(__file__).resolve().parents[1]
TIME_TARGET = 2.0
MEMORY_TARGET = 1.5


def many_tables(megabytes: int, error_at_end: bool) -> str:
    head = HEADER.format(
        title="a config with many small tables", steps=10, interval=5, size="8", rank=8
    ) + DATA.format(index=0, seq_len=4096, batch=8)
    parts, size, index = [head], len(head), 0
    while size < megabytes * 1024 * 1024:
        block = f'\n[[extra.source]]\nname = "eval-{index}"\nprompt = "reverse the text"\n'
        parts.append(block)
        size += len(block)
        index += 1
    if error_at_end:
        parts.append('\n[optim]\nlr = "fast"\n')
    return "".join(parts)


def measured(command: list[str], ok: tuple[int, ...], code: Path = REPO) -> tuple[float, float]:
    """Wall seconds and peak memory (max RSS, MB) of one child process run to its end."""
    start = time.perf_counter()
    # Run from the file's directory: `python -m` puts the working directory first on sys.path,
    # which would shadow the checkout given by `code`.
    child = subprocess.Popen(
        command,
        env={**os.environ, "PYTHONPATH": str(code)},
        stderr=subprocess.DEVNULL,
        cwd=Path(command[-1]).parent if Path(command[-1]).is_file() else None,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{command[:4]} exited with {code}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=50, help="size of each file (MB)")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--code",
        type=Path,
        default=REPO,
        help="the lossmask checkout to measure (e.g. an older commit's `git archive`)",
    )
    args = parser.parse_args()
    shapes = {
        "long-prompts": lambda: big_config(args.mb, args.seed),
        "many-tables": lambda: many_tables(args.mb, error_at_end=False),
        "many-tables-error-at-end": lambda: many_tables(args.mb, error_at_end=True),
    }
    print(
        f"lossmask validate vs tomllib.loads, {args.mb} MB files, best of {args.repeat}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; lossmask from {args.code}"
    )
    header = ("shape", "tomllib s", "validate s", "x", "tomllib MB", "validate MB", "x")
    print("{:<26} {:>9} {:>10} {:>5} {:>10} {:>11} {:>5}".format(*header))
    worst = (0.0, 0.0)
    with tempfile.TemporaryDirectory() as directory:
        for name, make in shapes.items():
            path = Path(directory) / f"{name}.toml"
            path.write_text(make(), encoding="utf-8")
            parse = [
                sys.executable,
                "-c",
                "import sys, tomllib; tomllib.loads(open(sys.argv[1]).read())",
                str(path),
            ]
            validate = [sys.executable, "-m", "lossmask", "validate", str(path)]
            runs = [
                (measured(parse, (0,)), measured(validate, (0, 1), args.code))
                for _ in range(args.repeat)
            ]
            parse_s = min(p[0] for p, _ in runs)
            validate_s = min(v[0] for _, v in runs)
            parse_mb = min(p[1] for p, _ in runs)
            validate_mb = min(v[1] for _, v in runs)
            ratios = (validate_s / parse_s, validate_mb / parse_mb)
            worst = (max(worst[0], ratios[0]), max(worst[1], ratios[1]))
            print(
                f"{name:<26} {parse_s:>9.2f} {validate_s:>10.2f} {ratios[0]:>5.2f} "
                f"{parse_mb:>10.0f} {validate_mb:>11.0f} {ratios[1]:>5.2f}"
            )
            path.unlink()
    met = worst[0] <= TIME_TARGET and worst[1] <= MEMORY_TARGET
    print(
        f"worst: {worst[0]:.2f}x time (target <= {TIME_TARGET}x), {worst[1]:.2f}x peak memory "
        f"(target <= {MEMORY_TARGET}x): {'met' if met else 'NOT met'}; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
