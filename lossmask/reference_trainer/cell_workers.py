"""Grid cells in parallel: `lossmask experiment --jobs N` trains N cells at once, each in its own
process on one torch thread.

Why processes with one thread each: a tiny model's step is too small to keep two threads busy, and
on a loaded machine a two-threaded step waits for whichever thread was descheduled (measured in
issue 20: one thread per cell ran ~4x faster per step than two under contention). One thread per
cell also makes a cell's arithmetic, and so its figures, independent of how many cores the
machine has.

Workers are started with `spawn` (no torch state is forked) in their own process group, so a
Ctrl-C at the terminal reaches only this process, which passes each SIGINT/SIGTERM on to the
running cells exactly once: they finish their step, save, and stop like a single run does, and
cells not yet started are skipped. A second signal is not caught (the workers are daemons and go
with this process).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lossmask.errors import ConfigError
from lossmask.reference_trainer.runner import Log, Warn
from lossmask.reference_trainer.stop_signals import StopRequests

if TYPE_CHECKING:
    from lossmask.reference_trainer.grid import Cell, GridResult

POLL_SECONDS = 0.2


def _cell_worker(index: int, cell: Cell, messages: Any) -> None:
    """Train and evaluate one cell; report log lines, then the outcome, through `messages`."""
    os.setpgrp()  # the terminal's Ctrl-C goes to the parent, which passes it on once
    import torch

    torch.set_num_threads(1)
    from lossmask.reference_trainer.train_configs import train_and_evaluate

    def log(text: str) -> None:
        messages.put(("log", index, text))

    def warn(problem: Any) -> None:
        messages.put(("warn", index, problem))

    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        outcome, stopped_by = train_and_evaluate(
            cell.settings, _single_process(), label=cell.label, log=log, warn=warn, progress=False
        )
    except ConfigError as error:
        messages.put(("problems", index, list(error.problems)))
        return
    except BaseException:  # a bug: its traceback goes to the parent, which raises it
        messages.put(("crash", index, traceback.format_exc()))
        return
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    messages.put(
        ("done", index, (outcome.losses, outcome.summary, seconds, cpu_seconds, stopped_by))
    )


def _single_process() -> Any:
    from lossmask.reference_trainer.distributed import Launch

    return Launch()


def run_cells_in_parallel(cells: Sequence[Cell], jobs: int, log: Log, warn: Warn) -> GridResult:
    """Every cell, `jobs` at a time, results in the cells' order (cells skipped after a signal
    are absent; the cell a signal stopped comes last, as in a serial run)."""
    from lossmask.reference_trainer.grid import CellResult, GridResult

    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    waiting = list(enumerate(cells))
    running: dict[int, Any] = {}
    finished: dict[int, CellResult] = {}
    stopped: dict[int, int] = {}
    problems: list[Any] = []
    with StopRequests() as stop:
        forwarded = False
        while waiting or running:
            while waiting and len(running) < jobs and not stop.requested and not problems:
                index, cell = waiting.pop(0)
                log(f"== cell {index + 1}/{len(cells)}: {cell.label} -> {cell.settings.output_dir}")
                process = context.Process(
                    target=_cell_worker, args=(index, cell, messages), daemon=True
                )
                process.start()
                running[index] = process
            if (stop.requested or problems) and not forwarded:
                forwarded = True
                waiting.clear()
                for process in running.values():
                    if process.pid is not None:
                        os.kill(process.pid, stop.requested or signal.SIGTERM)
            try:
                kind, index, payload = messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                for index, process in list(running.items()):
                    if not process.is_alive() and index not in finished:
                        # Give a message sent just before exit the time to arrive.
                        time.sleep(POLL_SECONDS)
                        if messages.empty():
                            running.pop(index)
                            raise RuntimeError(
                                f"cell {cells[index].label} died (exit code {process.exitcode})"
                            ) from None
                continue
            label = cells[index].label
            if kind == "log":
                log(f"[{label}] {payload}")
            elif kind == "warn":
                warn(payload)
            elif kind == "problems":
                problems += payload
                running.pop(index).join()
            elif kind == "crash":
                for process in running.values():
                    process.terminate()
                raise RuntimeError(f"cell {label} failed:\n{payload}")
            else:
                losses, summary, seconds, cpu_seconds, stopped_by = payload
                finished[index] = CellResult(
                    cells[index], losses, summary, seconds, cpu_seconds, stopped_by
                )
                if stopped_by:
                    stopped[index] = stopped_by
                running.pop(index).join()
    if problems:
        raise ConfigError(problems)
    result = GridResult()
    order = sorted(finished, key=lambda index: (index in stopped, index))
    result.results = [finished[index] for index in order]
    result.stopped_by = next(iter(stopped.values()), 0) or stop.requested
    return result
