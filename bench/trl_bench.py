"""lossmask's reference trainer vs TRL's `SFTTrainer`, side by side: same model, data, mask, steps.

    pip install -e '.[bench]'              # TRL is a bench-only dependency
    python bench/trl_bench.py              # 24 steps of 16 samples (micro-batches of 8), CPU fp32
    python bench/trl_bench.py --json out.json

Both trainers get the same thing: lossmask's masked samples of the embedded synthetic tool-calling
conversations (GLM-4.5 renderer, `loss_mask = "sampled"`), the embedded tiny Llama (same seed, same
init), AdamW at a constant learning rate, gradient clipping at 1.0, global batch 16 in two
micro-batches of 8, right padding, per-token loss normalised over the global batch. TRL gets the
samples pre-tokenized (`input_ids` and `labels` columns, used as they are), so neither side pays
for rendering inside the timed loop. The pool holds exactly `steps * batch` samples and each
trainer runs one epoch, so both train on every sample exactly once (in their own order) and on the
same number of tokens.

Each trainer runs in its own fresh subprocess, on `--threads` torch threads (default 1).
Throughput: the epoch's trained tokens (the same number for both) over the time from the start of
the training loop to the end of the last optimizer step (lossmask: from its "model:" log line, just
before the loop, to its last metrics record; TRL: from `on_train_begin` to the last `on_step_end`),
so data preparation, model building and saving are outside it. Two clocks: the process's CPU time
(user + system), which other jobs on a shared machine barely move when the run is single-threaded,
and wall time. The targets use CPU time; `--rounds N` alternates the two trainers N times and
keeps each one's best round.
Memory: the subprocess's peak resident set (`VmHWM`) over its whole life, imports included, and
its growth from just before training starts. Targets: lossmask's throughput at least 1.3x TRL's,
its peak resident set at most 0.9x TRL's. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from proc_status import status_kib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

THROUGHPUT_TARGET = 1.3
MEMORY_TARGET = 0.9
CONFIG = """\
max_steps = {steps}
seed = 0

[renderer]
name = "glm-4.5"

[data]
type = "sft"
seq_len = 512
batch_size = {batch}
micro_batch_size = {micro}
num_examples = {samples}
loss_mask = "sampled"

[optim]
lr = 3e-3
weight_decay = 0.0
max_norm = 1.0
"""


def _settings(args: argparse.Namespace, folder: Path) -> Any:
    from lossmask.reference_trainer.settings import load_settings

    config = folder / "bench.toml"
    text = CONFIG.format(
        steps=args.steps, batch=args.batch, micro=args.micro, samples=args.steps * args.batch
    )
    config.write_text(text)
    # The config says "sampled": lossmask's schema, which prime-rl main (the default) refuses.
    settings, _ = load_settings(
        config, device="cpu", output_dir=folder / "out", eval_examples=0, reader="lossmask"
    )
    return settings


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def run_lossmask(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from lossmask.reference_trainer import outputs
    from lossmask.reference_trainer.loop import train

    settings = _settings(args, folder)
    begin: list[tuple[float, float]] = []
    ends: list[tuple[float, float]] = []
    records: list[dict[str, Any]] = []
    write = outputs.MetricsWriter.write

    def timed_write(self: Any, record: dict[str, Any]) -> None:
        # The loop writes one record at the end of every optimizer step.
        ends.append(_clock())
        records.append(record)
        write(self, record)

    def log(message: str) -> None:
        if message.startswith("model:"):  # logged right before the training loop
            begin.append(_clock())

    base = status_kib("VmRSS")
    outputs.MetricsWriter.write = timed_write  # type: ignore[method-assign]
    train(settings, log=log, progress=False)
    steps = [record for record in records if "trained_tokens" in record]
    assert len(steps) == args.steps and len(begin) == 1
    trained = sum(record["trained_tokens"] for record in steps)
    return _result(begin[0], ends[-1], trained, [record["loss"] for record in steps], base)


def run_trl(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from lossmask.reference_trainer.loop import prepare
    from lossmask.reference_trainer.loss import IGNORE_INDEX
    from lossmask.reference_trainer.model import build_model

    settings = _settings(args, folder)
    everything = prepare(settings, lambda _message: None)
    prepared, source = everything.data, everything.source
    assert len(prepared.samples) == args.steps * args.batch, "pool must be one epoch exactly"
    rows: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
    for sample in prepared.samples:
        # lossmask's inputs are ids[:-1], targets ids[1:]; TRL takes ids and shifts in the model.
        assert sample.input_ids[1:] == sample.target_ids[:-1]
        rows["input_ids"].append([*sample.input_ids, sample.target_ids[-1]])
        masked = [
            t if m else IGNORE_INDEX
            for t, m in zip(sample.target_ids, sample.loss_mask, strict=True)
        ]
        rows["labels"].append([IGNORE_INDEX, *masked])
    dataset = Dataset.from_dict(rows)
    tokenizer = prepared.backend.tokenizer
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.begin = (0.0, 0.0)
            self.ends: list[tuple[float, float]] = []

        def on_train_begin(self, *_: Any, **__: Any) -> None:
            self.begin = _clock()

        def on_step_end(self, *_: Any, **__: Any) -> None:
            self.ends.append(_clock())

    clock = StepClock()
    base = status_kib("VmRSS")
    model = build_model(source, settings.seed)
    config = SFTConfig(
        output_dir=str(folder / "trl"),
        max_steps=args.steps,
        per_device_train_batch_size=args.micro,
        gradient_accumulation_steps=args.batch // args.micro,
        learning_rate=settings.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_norm,
        adam_beta1=settings.betas[0],
        adam_beta2=settings.betas[1],
        optim="adamw_torch",
        max_length=None,
        packing=False,
        padding_free=False,
        use_cpu=True,
        bf16=False,
        fp16=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        seed=settings.seed,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[clock],
    )
    trainer.train()
    assert len(clock.ends) == args.steps
    # One epoch in TRL's own order: every sample once, so the epoch's trained tokens.
    trained = sum(sum(label != IGNORE_INDEX for label in row) for row in rows["labels"])
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return _result(clock.begin, clock.ends[-1], trained, losses, base)


def _result(
    begin: tuple[float, float],
    end: tuple[float, float],
    trained: int,
    losses: list[float],
    base_kib: int,
) -> dict[str, Any]:
    peak = status_kib("VmHWM")
    cpu, wall = end[0] - begin[0], end[1] - begin[1]
    return {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "trained_tokens_per_cpu_s": trained / cpu,
        "trained_tokens_per_wall_s": trained / wall,
        "trained_tokens": trained,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "peak_rss_mib": peak / 1024,
        "rss_growth_mib": (peak - base_kib) / 1024,
    }


def run_child(args: argparse.Namespace, which: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", which, "--threads", str(args.threads)]
    command += ["--steps", str(args.steps), "--batch", str(args.batch), "--micro", str(args.micro)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {which} run failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each run")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the trainers N times")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", choices=("lossmask", "trl"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as folder:
            run = run_lossmask if args.child == "lossmask" else run_trl
            print(json.dumps(run(args, Path(folder))))
        return 0
    try:
        import trl
    except ImportError:
        print("TRL is not installed: pip install -e '.[bench]' (or pip install trl)")
        return 2
    import torch

    print(
        f"lossmask vs TRL {trl.__version__} SFTTrainer, torch {torch.__version__}, CPU fp32, "
        f"{args.threads} thread(s): {args.steps} steps of {args.batch} (micro-batches of "
        f"{args.micro}), embedded tiny Llama, seq_len 512, best of {args.rounds} round(s)"
    )
    rounds: dict[str, list[dict[str, Any]]] = {"lossmask": [], "trl": []}
    for _ in range(args.rounds):
        for which, runs in rounds.items():
            runs.append(run_child(args, which))
    results = {
        which: min(runs, key=lambda run: run["cpu_seconds"]) for which, runs in rounds.items()
    }
    ours, theirs = results["lossmask"], results["trl"]
    speed = ours["trained_tokens_per_cpu_s"] / theirs["trained_tokens_per_cpu_s"]
    wall_speed = ours["trained_tokens_per_wall_s"] / theirs["trained_tokens_per_wall_s"]
    memory = ours["peak_rss_mib"] / theirs["peak_rss_mib"]
    print(
        "| trainer | trained tok per CPU s | trained tok per wall s | peak RSS MiB "
        "| RSS growth MiB | first loss | last loss |"
    )
    print("|---|---|---|---|---|---|---|")
    for which, cell in results.items():
        print(
            f"| {which} | {cell['trained_tokens_per_cpu_s']:,.0f} "
            f"| {cell['trained_tokens_per_wall_s']:,.0f} | {cell['peak_rss_mib']:.0f} "
            f"| {cell['rss_growth_mib']:.0f} | {cell['first_loss']:.4f} | {cell['last_loss']:.4f} |"
        )
    ok = speed >= THROUGHPUT_TARGET and memory <= MEMORY_TARGET
    print(
        f"throughput {speed:.2f}x TRL per CPU second ({wall_speed:.2f}x per wall second; target "
        f">= {THROUGHPUT_TARGET}), peak RSS {memory:.2f}x TRL (target <= {MEMORY_TARGET}): "
        f"{'all targets met' if ok else 'TARGET MISSED'}"
    )
    if args.json is not None:
        summary = {
            "throughput_ratio_cpu": speed,
            "throughput_ratio_wall": wall_speed,
            "memory_ratio": memory,
            "ok": ok,
        }
        payload = {"settings": vars(args) | {"json": str(args.json)}, "rounds": rounds}
        payload |= {**results, **summary}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
