"""Benchmark `lossmask migrate` on a generated tree of prime-rl-shaped configs, side by side.

    python bench/migrate_bench.py --files 5000 --repeat 3

Measures in one run, on the same files (best of --repeat, wall clock):

1. `--check` over an already migrated tree vs `tomllib`-parsing the same files (target <= 2x);
2. write mode over a legacy tree vs a bare tomlkit parse + dump + write of the files that change
   (target <= 1.3x);
3. `--jobs 2` vs `--jobs 1`, write mode and check mode (target >= 1.7x on 2 cores);
4. `lossmask migrate` on one file of each --big-mb size (default 50: a legacy config whose
   `[[eval.source]]` tables embed long prompts) against a `tomllib` parse of it, each in its own
   process, with its peak memory (target: under 20 s for 50 MB; `--big-mb 50 1024` adds 1 GB).

Every `migrate` run goes through `lossmask.migrate.command.run` (the big files through the CLI),
stack discovery included: launch scripts found by the walk and launch lines in every file's
comments.

The tree mixes what real repositories hold: explicit tables, missing `loss_mask`, partial tables
(table, inline, dotted styles), `[val.data]`, RL configs, fake data and overlays.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import tomlkit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lossmask.migrate.command import run
from lossmask.migrate.options import MigrateOptions

# The generated configs are legacy ones: migrated as prime-rl before #2988 read them.
PRE_2988 = "prime-rl-pre-2988"

REPO = Path(__file__).resolve().parents[1]

HEADER = """# {title}
# Generated for the lossmask migrate benchmark (prime-rl shape).
max_steps = {steps}
dist_timeout_seconds = 3600

[ckpt] # Checkpoint at the end of training
interval = {interval}

[model]
name = "PrimeIntellect/Qwen3-{size}B"
optimization_dtype = "bfloat16"
reduce_dtype = "bfloat16"
impl = "custom"

[model.lora]
rank = {rank}
target_modules = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
]

[renderer]
name = "auto"
"""

DATA = """
[data]
name = "your-org/dataset-{index}"
seq_len = {seq_len}
batch_size = {batch}
micro_batch_size = 1       # keep memory flat
"""

TAIL = """
[optim]
lr = {lr}

[eval]
interval = 25
num_examples = 32

[[eval.source]]
name = "reverse-text"

[deployment]
num_train_gpus = 1
num_infer_gpus = 1
"""

RL = """# RL run {index}
max_steps = {steps}
seq_len = {seq_len}

[deployment]
num_train_gpus = 2

[model]
name = "PrimeIntellect/Qwen3-{size}B"

[orchestrator]
batch_size = {batch}
rollouts_per_example = 8

[[orchestrator.train.source]]
name = "wordle"

[trainer.optim]
lr = 3e-6
"""

FULL = "\n[data.loss_mask]\nsystem = false\nuser = false\nassistant = true\ntool = false\n"


def config_text(index: int, rng: random.Random) -> str:
    values = {
        "index": index,
        "title": f"SFT config {index}",
        "steps": rng.choice([20, 100, 1000]),
        "interval": rng.choice([25, 100]),
        "size": rng.choice(["0.6", "1.7", "8"]),
        "rank": rng.choice([8, 16, 32]),
        "seq_len": rng.choice([1024, 4096, 16384]),
        "batch": rng.choice([4, 32, 64]),
        "lr": rng.choice(["1e-5", "2e-5"]),
    }
    kind = rng.random()
    if kind < 0.15:
        return RL.format(**values)
    if kind < 0.20:
        return '[slurm]\njob_name = "overlay"\n'
    if kind < 0.25:
        return HEADER.format(**values) + '\n[data]\ntype = "fake"\nbatch_size = 2\n'
    head, data, tail = HEADER.format(**values), DATA.format(**values), TAIL.format(**values)
    if kind < 0.55:
        return head + data + FULL + tail  # already explicit
    if kind < 0.80:
        return head + data + tail  # missing loss_mask
    if kind < 0.88:
        return head + data + "\n[data.loss_mask]\nsystem = true  # partial\n" + tail
    if kind < 0.94:
        return head + data + "loss_mask = { assistant = true }\n" + tail
    return head + data + "loss_mask.tool = true\n\n[val.data]\nname = 'val'\n" + tail


def big_config(megabytes: int, seed: int) -> str:
    """A legacy config of about `megabytes` MB: a small [data] table and many long prompts."""
    rng = random.Random(seed)
    words = ["the", "model", "reverse", "text", "tool", "call", "assistant", "user", "token"]
    head = HEADER.format(
        title="a config with embedded prompts", steps=10, interval=5, size="8", rank=8
    ) + DATA.format(index=0, seq_len=4096, batch=8)
    parts, size, index = [head], len(head), 0
    while size < megabytes * 1024 * 1024:
        prompt = " ".join(rng.choice(words) for _ in range(700))
        block = f'\n[[eval.source]]\nname = "eval-{index}"  # one prompt\nprompt = "{prompt}"\n'
        parts.append(block)
        size += len(block)
        index += 1
    return "".join(parts)


def generate(root: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for index in range(count):
        directory = root / f"group{index % 50:02d}" / f"run{index // 50:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "train.toml").write_text(config_text(index, rng))


Timed = tuple[Callable[[], None], Callable[[], object]]


def best_pair(repeat: int, first: Timed, second: Timed) -> tuple[float, float]:
    """Best-of-`repeat` wall time of two bodies, measured alternately so load drift hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for (setup, body), bucket in zip((first, second), times, strict=True):
            setup()
            start = time.perf_counter()
            body()
            bucket.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def measured_child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (max RSS, MB) of one child process run to its end."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO)})
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if child.returncode != 0:
        raise SystemExit(f"{command[:3]} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="where to generate (default: a temp dir)")
    parser.add_argument(
        "--big-mb", type=int, nargs="+", default=[50], help="size of each big file (MB)"
    )
    args = parser.parse_args()
    # Taken before this script loads the machine itself: the 1-minute load average that follows
    # the tree's generation counts that work too, so it cannot say whether something else ran.
    load_at_start = os.getloadavg()[0]

    base = Path(tempfile.mkdtemp(prefix="migrate-bench-", dir=args.dir))
    legacy, work, migrated = base / "legacy", base / "work", base / "migrated"
    generate(legacy, args.files, args.seed)
    shutil.copytree(legacy, migrated)
    first = run(MigrateOptions([str(migrated)], reader=PRE_2988, mode="write", jobs=1))
    changed = [r.path for r in first.files if r.status == "migrated"]
    changed_in_work = [str(work / Path(p).relative_to(migrated)) for p in changed]
    migrated_files = [str(p) for p in sorted(migrated.rglob("*.toml"))]
    print(
        f"{args.files} files in {base}: {len(changed)} need a rewrite, "
        f"{first.count('error')} errors"
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, tomlkit {tomlkit.__version__}")

    def fresh_copy() -> None:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(legacy, work)

    def nothing() -> None:
        pass

    def tomllib_parse_all() -> None:
        for name in migrated_files:
            with open(name, "rb") as handle:
                tomllib.loads(handle.read().decode("utf-8"))

    def tomlkit_roundtrip_changed() -> None:
        for name in changed_in_work:
            with open(name, encoding="utf-8", newline="") as handle:
                text = handle.read()
            with open(name, "w", encoding="utf-8", newline="") as handle:
                handle.write(tomlkit.dumps(tomlkit.parse(text)))

    def migrate(mode: str, jobs: int, root: Path) -> Callable[[], object]:
        return lambda: run(MigrateOptions([str(root)], reader=PRE_2988, mode=mode, jobs=jobs))  # type: ignore[arg-type]

    rows: list[tuple[str, float, str, float, float | None, str]] = []
    n = args.repeat
    load_before = os.getloadavg()[0]
    check_1, parse = best_pair(
        n, (nothing, migrate("check", 1, migrated)), (nothing, tomllib_parse_all)
    )
    rows.append(("--check, migrated, -j1", check_1, "tomllib parse, same files", parse, 2.0, "<="))
    write_1, roundtrip = best_pair(
        n, (fresh_copy, migrate("write", 1, work)), (fresh_copy, tomlkit_roundtrip_changed)
    )
    rows.append(("write, legacy, -j1", write_1, "tomlkit parse+dump+write", roundtrip, 1.3, "<="))
    write_1b, write_2 = best_pair(
        n, (fresh_copy, migrate("write", 1, work)), (fresh_copy, migrate("write", 2, work))
    )
    rows.append(("write, legacy, -j1", write_1b, "write, legacy, -j2", write_2, 1.7, ">="))
    check_1b, check_2 = best_pair(
        n, (nothing, migrate("check", 1, migrated)), (nothing, migrate("check", 2, migrated))
    )
    rows.append(("--check, migrated, -j1", check_1b, "--check, migrated, -j2", check_2, 1.7, ">="))
    peaks = []
    for megabytes in args.big_mb:
        big_text = big_config(megabytes, args.seed)
        big = base / f"big-{megabytes}" / "sft.toml"
        big.parent.mkdir()
        big.write_text(big_text)
        big_chars = len(big_text)
        del big_text  # the children read the file; this process need not hold it meanwhile
        # Each side is its own process (interpreter start included): its peak memory is its own.
        big_parse, parse_peak = measured_child(
            [sys.executable, "-c", f"import tomllib; tomllib.loads(open({str(big)!r}).read())"]
        )
        big_write, write_peak = measured_child(
            [
                sys.executable,
                "-m",
                "lossmask",
                "migrate",
                "--reader",
                PRE_2988,
                "-q",
                str(big.parent),
            ]
        )
        big_name = f"write, one {big_chars / 1e6:.0f} MB file"
        # The target is for 50 MB; a bigger file is measured, with no target.
        sense = "<20s" if megabytes <= 50 else "(no target)"
        rows.append((big_name, big_write, "tomllib parse of it", big_parse, None, sense))
        peaks.append((big_chars, write_peak, parse_peak))
        big.unlink()
    print(
        f"load average at start: {load_at_start:.2f}; before timing (after the setup): "
        f"{load_before:.2f}"
    )
    print(f"\n{'measured':34} {'s':>7}   {'against':36} {'s':>7}  ratio  target")
    for name, ours, other_name, other, target, sense in rows:
        ratio = ours / other
        if target is None:  # an absolute target, in seconds
            print(
                f"{name:34} {ours:7.3f}   {other_name:36} {other:7.3f}  {ratio:5.2f}  "
                f"{sense}{'' if sense != '<20s' else ' ok' if ours < 20 else ' MISSED'}"
            )
            continue
        ok = ratio <= target if sense == "<=" else ratio >= target
        print(
            f"{name:34} {ours:7.3f}   {other_name:36} {other:7.3f}  {ratio:5.2f}  "
            f"{sense} {target} {'ok' if ok else 'MISSED'}"
        )
    for big_chars, write_peak, parse_peak in peaks:
        print(
            f"peak memory (max RSS) of the {big_chars / 1e6:.0f} MB file's processes: migrate "
            f"{write_peak:.0f} MB, tomllib parse {parse_peak:.0f} MB"
        )
    print(f"load average after timing: {os.getloadavg()[0]:.2f}")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
