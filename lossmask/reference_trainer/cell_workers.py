"""Grid cells in parallel: `lossmask experiment --jobs N` runs N trainings at once, each in its own
process on one torch thread (a training evaluates every cell that shares it, shared_training.py).

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
    from lossmask.reference_trainer.shared_training import TrainingUnit

POLL_SECONDS = 0.2


def _unit_worker(number: int, cells: list[Cell], unit: TrainingUnit, messages: Any) -> None:
    """Train one unit and evaluate its cells; report log lines, then the outcomes."""
    os.setpgrp()  # the terminal's Ctrl-C goes to the parent, which passes it on once
    import torch

    torch.set_num_threads(1)
    from lossmask.reference_trainer.distributed import Launch
    from lossmask.reference_trainer.train_configs import train_and_evaluate

    def log(text: str) -> None:
        messages.put(("log", number, text))

    def warn(problem: Any) -> None:
        messages.put(("warn", number, problem))

    trains = cells[unit.trains]
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        outcomes, stopped_by = train_and_evaluate(
            trains.settings,
            Launch(),
            label=trains.label,
            log=log,
            warn=warn,
            progress=False,
            also_evaluate=[(cells[i].settings, cells[i].label) for i in unit.cells[1:]],
        )
    except ConfigError as error:
        messages.put(("problems", number, list(error.problems)))
        return
    except BaseException:  # a bug: its traceback goes to the parent, which raises it
        messages.put(("crash", number, traceback.format_exc()))
        return
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    payload = ([(o.losses, o.summary) for o in outcomes], seconds, cpu_seconds, stopped_by)
    messages.put(("done", number, payload))


def run_units_in_parallel(
    cells: Sequence[Cell], units: Sequence[TrainingUnit], jobs: int, log: Log, warn: Warn
) -> GridResult:
    """Every training unit, `jobs` at a time; results in the cells' order, the cells of units a
    signal stopped last (cells of units skipped after a signal are absent)."""
    from lossmask.reference_trainer.grid import GridResult, unit_results, unit_title

    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    waiting = list(enumerate(units, start=1))
    running: dict[int, Any] = {}
    finished: dict[int, Any] = {}  # cell index -> CellResult
    stopped: list[int] = []
    problems: list[Any] = []
    with StopRequests() as stop:
        forwarded = False
        while waiting or running:
            while waiting and len(running) < jobs and not stop.requested and not problems:
                number, unit = waiting.pop(0)
                log(unit_title(cells, unit, number, len(units)))
                process = context.Process(
                    target=_unit_worker, args=(number, list(cells), unit, messages), daemon=True
                )
                process.start()
                running[number] = process
            if (stop.requested or problems) and not forwarded:
                forwarded = True
                waiting.clear()
                for process in running.values():
                    if process.pid is not None:
                        os.kill(process.pid, stop.requested or signal.SIGTERM)
            try:
                kind, number, payload = messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                _check_alive(running, messages, units, cells)
                continue
            unit = units[number - 1]
            label = cells[unit.trains].label
            if kind == "log":
                log(f"[{label}] {payload}")
            elif kind == "warn":
                warn(payload)
            elif kind == "problems":
                problems += payload
                running.pop(number).join()
            elif kind == "crash":
                for process in running.values():
                    process.terminate()
                raise RuntimeError(f"training of {label} failed:\n{payload}")
            else:
                outcomes, seconds, cpu_seconds, stopped_by = payload
                results = unit_results(
                    cells, unit, [_Outcome(*o) for o in outcomes], seconds, cpu_seconds, stopped_by
                )
                for index, cell_result in zip(unit.cells, results, strict=True):
                    finished[index] = cell_result
                    if stopped_by:
                        stopped.append(index)
                running.pop(number).join()
    if problems:
        raise ConfigError(problems)
    result = GridResult()
    order = sorted(finished, key=lambda index: (index in stopped, index))
    result.results = [finished[index] for index in order]
    result.stopped_by = next((finished[i].stopped_by for i in stopped), 0) or stop.requested
    return result


class _Outcome:
    """What `unit_results` reads of an outcome: the losses and the summary."""

    def __init__(self, losses: list[float], summary: Any) -> None:
        self.losses = losses
        self.summary = summary


def _check_alive(
    running: dict[int, Any], messages: Any, units: Sequence[TrainingUnit], cells: Sequence[Cell]
) -> None:
    """A worker that died without reporting (killed, out of memory) is an error, not a hang."""
    for number, process in list(running.items()):
        if not process.is_alive():
            time.sleep(POLL_SECONDS)  # a message sent just before exit may still be arriving
            if messages.empty():
                running.pop(number)
                label = cells[units[number - 1].trains].label
                raise RuntimeError(f"training of {label} died (exit code {process.exitcode})")
