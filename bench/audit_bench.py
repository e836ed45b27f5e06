"""`lossmask audit` at scale, against the bare loops it is built on; ratios side by side, one run.

    python bench/audit_bench.py --rows 200000     # the issue's scale (an idle machine)
    python bench/audit_bench.py --rows 4000       # a smaller run, same measurements

Synthetic tool-calling conversations (`generate_conversations`, 1-3 parallel calls per turn) are
written once as JSONL. Then, interleaved so a busy machine slows every variant alike, best of
`--repeat`, in this process (so imports and the backend are warm for every variant):

[1] chat-template path: `audit` (embedded GLM-4.5 template without `{% generation %}` tags,
    `"sampled"`, `-j 1`) vs a bare loop reading the same file: `json.loads`, tool-call arguments
    parsed, `apply_chat_template(tokenize=True)`. Target: at most 1.15x.
[2] renderer path: `audit` (renderer glm-4.5, `"sampled"`, `-j 1`) vs a bare loop with
    `renderer.render()` in place of `apply_chat_template`, the renderer built as a user builds it
    (`renderers.create_renderer(tokenizer, config)`). Target: at most 1.15x. lossmask hands its
    own renderer a `DirectTokenizer` (engine/renderer_tokenizer.py: the same ids, from the Rust
    tokenizer without transformers' per-call overhead), so the bench also prints a loop over
    that renderer, which says what audit adds on top of its own rendering.
[3] `audit -j 2` vs `-j 1` on the chat-template path, wall time. Target: at least 1.7x.
[4] peak RSS (VmHWM, reported by the child itself) of a fresh `lossmask audit` process at a
    tenth of the rows and at all of them. Target: flat in the row count. `--rss-only` runs [4]
    alone.

Each timing is printed as process CPU time (what the work costs; on a shared machine the wall
clock also counts waiting for a core) and wall time; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def timed(run: Callable[[], Any]) -> tuple[float, float]:
    """(CPU seconds of this process and its children, wall seconds)."""
    before = os.times()
    start = time.perf_counter()
    run()
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    cpu += (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return cpu, time.perf_counter() - start


def interleaved(repeat: int, *runs: Callable[[], Any]) -> list[tuple[float, float]]:
    """Best (CPU, wall) of each run, alternating the runs."""
    best: list[tuple[float, float]] = [(float("inf"), float("inf"))] * len(runs)
    for _ in range(repeat):
        for index, run in enumerate(runs):
            cpu, wall = timed(run)
            best[index] = (min(best[index][0], cpu), min(best[index][1], wall))
    return best


def read_rows(path: Path) -> Any:
    """The bare loops' input: each JSONL row, tool-call arguments parsed into objects."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for message in row["messages"]:
                for call in message.get("tool_calls") or []:
                    call["function"]["arguments"] = json.loads(call["function"]["arguments"])
            yield row


def audit(config: Path, data: Path, jobs: int) -> None:
    from lossmask.masks.app.commands import AuditOptions, execute_audit

    options = AuditOptions(
        configs=(str(config),),
        data=str(data),
        output_format="json",
        fail_under_stop_rate=None,
        jobs=jobs,
        reader="lossmask",  # the configs say "sampled": lossmask's schema, not prime-rl main's
    )
    report = execute_audit(options, echo=lambda *args, **kwargs: None)
    if report.exit_code != 0:
        raise SystemExit(f"audit of {data} with {config} failed: {report.problems[:3]}")


# The child reports its own peak: `ru_maxrss` from `wait4` would not do, because Linux carries the
# forked parent's high-water mark across `exec` into it (a parent that has audited 200,000 rows
# would be measured, not the child).
_CHILD = (
    "import atexit, sys\n"
    f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
    "from proc_status import status_kib\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'lossmask-bench-peak-kb {status_kib(\"VmHWM\")}\\n'))\n"
    "from lossmask.cli import main\n"
    "main()\n"
)


def peak_rss_mb(config: Path, data: Path) -> float:
    """Peak resident memory (VmHWM) of a fresh `lossmask audit` process, in MB."""
    argv = ["audit", str(config), "--data", str(data), "--reader", "lossmask"]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"lossmask audit exited with status {done.returncode}: {done.stderr[-500:]}"
        )
    kb = next(
        line.split()[1]
        for line in done.stderr.splitlines()
        if line.startswith("lossmask-bench-peak-kb ")
    )
    return int(kb) / 1024


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def line(label: str, cpu: float, wall: float, rows: int) -> str:
    return f"    {label:<34} cpu {cpu:8.2f} s ({1e6 * cpu / rows:7.0f} us/row)   wall {wall:8.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rss-only", action="store_true", help="measure [4] only")
    options = parser.parse_args(argv)

    from lossmask.masks import generate_conversations, write_jsonl
    from lossmask.masks.app.setup import mask_backend

    rows = options.rows
    print(f"lossmask audit bench: {rows} rows, best of {options.repeat}, interleaved")
    print(
        f"    python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cpus; load average before: {load()}"
    )
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        data = workdir / "tools.jsonl"
        small = workdir / "tools-tenth.jsonl"
        conversations = generate_conversations(rows, seed=options.seed)
        write_jsonl(conversations, data)
        write_jsonl(conversations[: max(1, rows // 10)], small)
        del conversations
        template_config = workdir / "template.toml"
        template_config.write_text(
            '[tokenizer]\nname = "embedded:glm-4.5-notags"\n\n[data]\nloss_mask = "sampled"\n'
        )
        renderer_config = workdir / "renderer.toml"
        renderer_config.write_text(
            '[renderer]\nname = "glm-4.5"\n\n[data]\nloss_mask = "sampled"\n'
        )
        if not options.rss_only:
            template = mask_backend(tokenizer="embedded:glm-4.5-notags", model=None, renderer=None)
            renderer_backend = mask_backend(tokenizer=None, model=None, renderer="glm-4.5")
            tokenizer = template.tokenizer  # type: ignore[attr-defined]
            ours = renderer_backend.renderer  # type: ignore[attr-defined]
            import renderers

            renderer = renderers.create_renderer(renderer_backend.tokenizer, ours.config)  # type: ignore[attr-defined]

            def bare_template() -> None:
                for row in read_rows(data):
                    tokenizer.apply_chat_template(
                        row["messages"], tools=row["tools"], tokenize=True
                    )

            def bare_renderer() -> None:
                for row in read_rows(data):
                    renderer.render(row["messages"], tools=row["tools"])

            def lossmask_renderer() -> None:
                for row in read_rows(data):
                    ours.render(row["messages"], tools=row["tools"])

            results = interleaved(
                options.repeat,
                bare_template,
                lambda: audit(template_config, data, 1),
                bare_renderer,
                lambda: audit(renderer_config, data, 1),
                lambda: audit(template_config, data, 2),
                lossmask_renderer,
            )
            (bt, bw), (at, aw), (rt, rw), (art, arw), (jt, jw), (ot, ow) = results
            print('[1] chat-template path (embedded GLM-4.5 template without tags, "sampled")')
            print(line("bare apply_chat_template loop", bt, bw, rows))
            print(line("lossmask audit -j 1", at, aw, rows))
            print(
                f"    ratio audit/bare: cpu {at / bt:.2f}x, wall {aw / bw:.2f}x   (target <= 1.15x)"
            )
            print('[2] renderer path (renderer glm-4.5, "sampled")')
            print(line("bare render() loop", rt, rw, rows))
            print(line("lossmask audit -j 1", art, arw, rows))
            ratio = f"cpu {art / rt:.2f}x, wall {arw / rw:.2f}x"
            print(f"    ratio audit/bare: {ratio}   (target <= 1.15x)")
            print(line("render() loop, lossmask's renderer", ot, ow, rows))
            print(f"    audit over its own rendering: cpu {art / ot:.2f}x, wall {arw / ow:.2f}x")
            print("[3] chat-template path, audit -j 2 vs -j 1 (wall time)")
            print(line("lossmask audit -j 2", jt, jw, rows))
            print(f"    speed-up -j 2 / -j 1: {aw / jw:.2f}x   (target >= 1.7x)")
        tenth, full = peak_rss_mb(template_config, small), peak_rss_mb(template_config, data)
        print("[4] peak RSS of `lossmask audit` (chat-template path), a fresh process each")
        print(f"    {max(1, rows // 10):>8} rows: {tenth:7.1f} MB")
        print(f"    {rows:>8} rows: {full:7.1f} MB   ratio {full / tenth:.2f}   (target: flat)")
    print(f"    load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
