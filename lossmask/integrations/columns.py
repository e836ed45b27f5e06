"""The columns trainers read a loss mask from, both ways: a mask written as one, one read as a mask.

| column            | read by                                     | trained k      | untrained |
|-------------------|---------------------------------------------|----------------|-----------|
| `labels`          | Hugging Face models, TRL, axolotl, LLaMA-Factory | `input_ids[k]` | `-100` |
| `assistant_masks` | TRL (`return_assistant_tokens_mask=True`)   | `1`            | `0`       |
| `completion_mask` | TRL (prompt/completion, `completion_only_loss`) | `1`        | `0`       |
| `loss_mask`       | verl (`MultiTurnSFTDataset`), slime         | `1`            | `0`       |

All are unshifted: entry k is about token k as a *target* (the model predicts it from tokens
before k). A `labels` entry that is neither -100 nor `input_ids[k]` means the labels are not in
this form (most often shifted by one: `labels[k] = input_ids[k + 1]`); reading them is refused
rather than guessed.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any

IGNORE_INDEX = -100
"""What Hugging Face's cross-entropy (and every trainer built on it) skips."""


class ColumnError(ValueError):
    """A mask column that does not say, token by token, what trains."""


@dataclass(frozen=True)
class MaskColumn:
    """One way of writing a loss mask beside `input_ids`."""

    name: str
    trainers: str
    value_type: str  # the Arrow/datasets value type of the column's items

    def encode(self, ids: Sequence[int], mask: Sequence[bool]) -> list[int]:
        """The column for `ids` whose trained targets are where `mask` is true."""
        if self.name == "labels":
            return [t if trained else IGNORE_INDEX for t, trained in zip(ids, mask, strict=True)]
        return [1 if trained else 0 for trained in mask]

    def decode(self, ids: Sequence[int], values: Sequence[int]) -> list[bool]:
        """Which tokens of `ids` the column trains; `ColumnError` when it cannot say."""
        if len(values) != len(ids):
            raise ColumnError(
                f"{self.name} has {len(values)} entries but input_ids has {len(ids)}; they must be "
                "aligned token by token"
            )
        if self.name == "labels":
            # Whole-list operations at C speed; the loop below runs only to name a bad label.
            trained = list(map(operator.ne, values, repeat(IGNORE_INDEX)))
            if list(compress(values, trained)) == list(compress(ids, trained)):
                return trained
            for k, (token, label) in enumerate(zip(ids, values, strict=True)):
                if label != IGNORE_INDEX and label != token:
                    shifted = k > 0 and values[k - 1] == token
                    hint = (
                        " (they look shifted by one: labels[k] = input_ids[k + 1]; lossmask reads "
                        "labels aligned to input_ids, as Hugging Face models take them)"
                        if shifted or (k + 1 < len(ids) and label == ids[k + 1])
                        else ""
                    )
                    raise ColumnError(
                        f"labels[{k}] is {label}, neither -100 nor input_ids[{k}] ({token}){hint}"
                    )
            return [label != IGNORE_INDEX for label in values]
        if not set(values) <= {0, 1}:  # one pass in C; the loop below only names the culprit
            k, value = next((k, v) for k, v in enumerate(values) if v not in (0, 1))
            raise ColumnError(f"{self.name}[{k}] is {value!r}, not 0 or 1")
        return list(map(operator.eq, values, repeat(1)))


MASK_COLUMNS: dict[str, MaskColumn] = {
    column.name: column
    for column in (
        MaskColumn("labels", "Hugging Face models, TRL, axolotl, LLaMA-Factory", "int32"),
        MaskColumn("assistant_masks", "TRL", "int8"),
        MaskColumn("completion_mask", "TRL (with completion_only_loss)", "int8"),
        MaskColumn("loss_mask", "verl, slime", "int8"),
    )
}
"""Every mask column, by name: the names `audit --tokenized` looks for, in this order."""

EXPORT_FORMATS: dict[str, str] = {
    # TRL applies `assistant_masks` to a pre-tokenized dataset always; a `completion_mask` only
    # under completion_only_loss, which defaults to off for rows without prompt/completion: so
    # `assistant_masks`, which cannot be silently ignored.
    "trl": "assistant_masks",
    "labels": "labels",
    "verl": "loss_mask",
    "slime": "loss_mask",
}
"""`lossmask export --format NAME` -> the mask column written."""


IDS_COLUMNS = ("input_ids", "tokens")
"""Where a prepared row keeps its ids: `input_ids`, or `tokens` (slime's `Sample`)."""


def read_row(
    row: Mapping[str, Any], column: MaskColumn, vocabulary: int | None = None
) -> tuple[list[int], list[bool]]:
    """(ids, mask) of one prepared row, as the trainer reads it; `ColumnError` when it cannot.

    - the ids are `input_ids` (or slime's `tokens`); with an `attention_mask`, positions where
      it is 0 are padding (verl pads rows to max_length) and are left out;
    - a mask as long as slime's `response_length` and shorter than the ids covers the last
      `response_length` tokens (slime's `Sample.loss_mask`); the tokens before it are untrained;
    - an id at or beyond `vocabulary` means the rows were made with another tokenizer.
    """
    ids = next((row[name] for name in IDS_COLUMNS if row.get(name) is not None), None)
    if not isinstance(ids, list) or not set(map(type, ids)) <= {int}:
        raise ColumnError("input_ids must be a list of token ids")
    values = row.get(column.name)
    if not isinstance(values, list):
        raise ColumnError(f"{column.name} must be a list, not {type(values).__name__}")
    response = row.get("response_length")
    if isinstance(response, int) and len(values) == response < len(ids):
        values = [IGNORE_INDEX if column.name == "labels" else 0] * (len(ids) - response) + values
    attention = row.get("attention_mask")
    if isinstance(attention, list) and len(attention) == len(ids) and not all(attention):
        if len(values) != len(ids):
            raise ColumnError(
                f"{column.name} has {len(values)} entries but input_ids has {len(ids)}"
            )
        kept = [k for k, bit in enumerate(attention) if bit]
        ids = [ids[k] for k in kept]
        values = [values[k] for k in kept]
    if vocabulary is not None and ids and max(ids) >= vocabulary:
        raise ColumnError(
            f"input_ids holds id {max(ids)}, but the tokenizer has {vocabulary} tokens: these "
            "rows were made with another tokenizer (pass the one they were made with)"
        )
    return ids, column.decode(ids, values)


def row_columns(column: MaskColumn) -> list[str]:
    """The columns of an exported row: ids, an all-ones attention mask (axolotl and
    LLaMA-Factory want exactly these three; TRL and verl take them too), the mask."""
    return ["input_ids", "attention_mask", column.name]


def find_mask_column(columns: Sequence[str], chosen: str | None = None) -> MaskColumn:
    """The mask column of a tokenised table: `chosen` (`--mask-column`), else the one it has.

    `ColumnError` when there is none, or more than one and none was chosen. A `--mask-column`
    naming another column is read as the kind its values look like: `labels` when called so,
    else 0/1.
    """
    if chosen is not None:
        if chosen not in columns:
            raise ColumnError(
                f"has no column {chosen!r} (--mask-column); its columns: {', '.join(columns)}"
            )
        known = MASK_COLUMNS.get(chosen)
        return known or MaskColumn(chosen, "--mask-column", "int8")
    found = [MASK_COLUMNS[name] for name in MASK_COLUMNS if name in columns]
    if not found:
        raise ColumnError(
            "has no mask column (one of "
            + ", ".join(MASK_COLUMNS)
            + f"); its columns: {', '.join(columns)}; name it with --mask-column"
        )
    if len(found) > 1:
        names = ", ".join(column.name for column in found)
        raise ColumnError(
            f"has several mask columns ({names}); say which one the trainer reads with "
            "--mask-column (TRL uses labels when present)"
        )
    return found[0]
