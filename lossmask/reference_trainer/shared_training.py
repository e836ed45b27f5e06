"""Grid cells that would train exactly the same thing train once.

Two cells train the same model when their training samples are token-identical (input ids,
targets and loss mask of every sample, and of every validation sample) and every other setting
is equal (seed, model, steps, batches, optimizer, ...; only the output directory, the tokenizer
or renderer that produced the samples, and the spelling of the mask may differ). That is what
happens on the GLM-4.5 grid: renderers 0.1.12 attributes the `<|observation|>` that closes a tool
turn to the assistant, so on the renderer path the legacy role table, `"sampled"` on the renderer
and `"sampled"` derived from serving on the chat template mark the same tokens, and `"all"` is the
same on both paths.

Such cells are checked here, trained once, and the one trained model is evaluated from each
cell's own backend and mask (the eval prompts are each backend's own). The table says which cells
shared a training and why; the equality is computed, never assumed: as equal SHA-256 digests of
every sample's length, input ids, targets and loss mask in order (two different sample sets could
only match by a SHA-256 collision), so the samples are never held side by side. Checking costs
one data preparation per cell in the parent process (seconds for the configs' 2000
conversations, minutes for the argument budget's 48,000), and saves every repeated training.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lossmask.reference_trainer.grid import Cell
    from lossmask.reference_trainer.settings import TrainSettings

# Settings that name how the samples were made, or where outputs go: the samples themselves are
# compared instead.
_NOT_COMPARED = ("output_dir", "tokenizer", "renderer")


@dataclass(frozen=True)
class TrainingUnit:
    """One training run, and every cell evaluated on its model (`cells[0]` is the one trained)."""

    cells: tuple[int, ...]  # indices into the grid's cells, in run order

    @property
    def trains(self) -> int:
        return self.cells[0]


def _samples_digest(samples: Sequence[Any], digest: Any) -> None:
    for sample in samples:
        # The length first: every sample's bytes then parse one way only.
        digest.update(array("q", [len(sample.input_ids)]).tobytes())
        for values in (sample.input_ids, sample.target_ids):
            digest.update(array("q", values).tobytes())
        digest.update(bytes(bytearray(bool(flag) for flag in sample.loss_mask)))
        digest.update(b"|")


def training_fingerprint(settings: TrainSettings) -> str:
    """SHA-256 of what a run trains: its settings but the path's and mask's names, its model
    source and every training and validation sample (lengths, ids, targets, mask). Raises
    ConfigError like
    the run itself would."""
    from lossmask.reference_trainer.loop import prepare

    prepared = prepare(settings, lambda _message: None)
    resolved = settings.resolved()
    for key in _NOT_COMPARED:
        resolved.pop(key, None)
    for table in (resolved.get("data", {}), resolved.get("val", {}).get("data", {})):
        table.pop("loss_mask", None)
    digest = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode())
    digest.update(prepared.source.describe().encode())
    _samples_digest(prepared.data.samples, digest)
    digest.update(b"validation")
    _samples_digest(prepared.data.val_samples, digest)
    return digest.hexdigest()


def share_training(cells: Sequence[Cell]) -> list[TrainingUnit]:
    """The grid's cells grouped by what they train, in the order their first cell runs."""
    groups: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        groups.setdefault(training_fingerprint(cell.settings), []).append(index)
    return [TrainingUnit(tuple(indices)) for indices in groups.values()]


def shared_note(cells: Sequence[Cell], units: Sequence[TrainingUnit]) -> list[str]:
    """One line per shared training: which cells trained exactly what another trained."""
    lines = []
    for unit in units:
        if len(unit.cells) > 1:
            others = ", ".join(cells[index].label for index in unit.cells[1:])
            lines.append(
                f"{others}: token-identical training samples and settings to "
                f"{cells[unit.trains].label} (checked): trained once, evaluated on each backend"
            )
    return lines
