"""`lossmask.tokenize`: conversations -> rows of `input_ids` plus the mask in a trainer's column.

    import lossmask

    rows = lossmask.tokenize(
        "data.parquet",          # a path lossmask.data reads, a datasets.Dataset, or row dicts
        "Qwen/Qwen3-8B",         # a tokenizer object, a local directory or a cached hub id
        renderer=None,           # None: the tokenizer's chat template; or "qwen3", "glm-4.5"
        loss_mask="sampled",     # or "all", or a role table {"assistant": True, ...}
        mask_column="labels",    # labels | assistant_masks | completion_mask | loss_mask
        num_proc=8,
    )
    rows[0]["input_ids"], rows[0]["labels"]

The rows are *unshifted*: `labels[k]` (or `loss_mask[k]`, ...) is about token k as a target, which
is how the trainers read them (docs/integrations.md). The mask is `mask_conversation`'s, the
function `show`, `audit` and lossmask's trainer use: the same tokens train.

The work runs on `datasets.map(num_proc=...)` over Arrow batches, rows read exactly as
`lossmask.data` reads them (the same decoding of `Json` columns, the same row shapes and row
errors). Every input row gives one output row with a status; `tokenize` keeps the good ones, and
`lossmask export` streams them to a file while it names the bad ones.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lossmask.integrations.columns import MASK_COLUMNS, MaskColumn, row_columns

STATUS = "lossmask_status"
MESSAGE = "lossmask_message"
SOURCE = "lossmask_source"
ROW = "lossmask_row"
LINE = "lossmask_line"
TRAINED = "lossmask_trained"
TRUNCATED = "lossmask_truncated"
BOOKKEEPING = (STATUS, MESSAGE, SOURCE, ROW, LINE, TRAINED, TRUNCATED)
"""Columns every mapped row carries beside `input_ids` and the mask; never written out."""

OK, SKIPPED, ERROR = "ok", "skipped", "error"
BATCH_ROWS = 256
_RAW_LINE = "lossmask_json"  # the one column of a JSON Lines file read as a Dataset


class TokenizeError(ValueError):
    """Rows that could not be tokenised; `problems` names each (`source:line: row N: why`)."""

    def __init__(self, problems: list[str], total: int) -> None:
        self.problems = problems
        shown = problems[:10] + ([f"... and {total - 10} more"] if total > 10 else [])
        super().__init__(
            f"{total} row(s) could not be tokenised (pass skip_bad_rows=True to drop them):\n"
            + "\n".join(shown)
        )


class BackendRecipe:
    """How to build the backend in any process: names (through the commands' `mask_backend`,
    built once per process) or a tokenizer object (pickled to workers; its backend is built once
    per worker, since a chat-template backend itself does not pickle)."""

    def __init__(
        self, tokenizer: Any = None, renderer: str | None = None, model: str | None = None
    ) -> None:
        self.tokenizer = tokenizer
        self.renderer = renderer
        self.model = model
        self._built: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_built": None}

    def backend(self) -> Any:
        if self._built is None:
            from lossmask.masks.app.setup import mask_backend
            from lossmask.masks.engine.backends import load_backend

            if isinstance(self.tokenizer, str | None):
                self._built = mask_backend(
                    tokenizer=self.tokenizer, model=self.model, renderer=self.renderer
                )
            else:
                self._built = load_backend(
                    tokenizer=self.tokenizer, renderer=self.renderer, model=self.model
                )
        return self._built


@dataclass(frozen=True)
class TokenizePlan:
    """What one mapped row needs: the backend, the mask, the column, the length bound."""

    recipe: BackendRecipe
    loss_mask: Any  # a mode name or a LossMaskRolesConfig (coerced once)
    column: MaskColumn
    max_length: int | None = None


@dataclass
class Outcome:
    """One row's result, before it becomes a line of the mapped table."""

    status: str
    message: str = ""
    ids: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    trained: int = 0
    truncated: bool = False


def tokenize_item(item: Any, plan: TokenizePlan) -> Outcome:
    """A `DataRow` (or `DataRowError`) -> ids and the mask column, or why not."""
    from lossmask.data import DataRowError
    from lossmask.masks.engine.build import mask_conversation
    from lossmask.masks.engine.sample import MaskError

    if isinstance(item, DataRowError):
        text = (f"{item.key}: " if item.key else "") + item.message
        return Outcome(ERROR, text + (f" ({item.suggestion})" if item.suggestion else ""))
    try:
        sequence = mask_conversation(item.conversation, plan.loss_mask, plan.recipe.backend())
    except MaskError as error:
        return Outcome(ERROR, str(error))
    ids, mask = sequence.ids, sequence.mask
    truncated = plan.max_length is not None and len(ids) > plan.max_length
    if truncated:
        ids, mask = ids[: plan.max_length], mask[: plan.max_length]
    # Token 0 is never a target: nothing predicts it.
    trained = sum(mask[1:])
    if not trained:
        return Outcome(
            SKIPPED,
            "nothing to train" + (f" within max_length {plan.max_length}" if truncated else ""),
            truncated=truncated,
        )
    return Outcome(OK, "", ids, plan.column.encode(ids, mask), trained, truncated)


def _schema(column: MaskColumn) -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("input_ids", pa.list_(pa.int32())),
            ("attention_mask", pa.list_(pa.int8())),
            (column.name, pa.list_(pa.int32() if column.value_type == "int32" else pa.int8())),
            (STATUS, pa.string()),
            (MESSAGE, pa.string()),
            (SOURCE, pa.string()),
            (ROW, pa.int64()),
            (LINE, pa.int64()),
            (TRAINED, pa.int32()),
            (TRUNCATED, pa.bool_()),
        ]
    )


def features(column: MaskColumn) -> Any:
    """The `datasets` features of a mapped table (what `map` is told it returns)."""
    import datasets

    return datasets.Features.from_arrow_schema(_schema(column))


def _table(outcomes: list[tuple[Any, Outcome]], column: MaskColumn) -> Any:
    import pyarrow as pa

    refs = [ref for ref, _ in outcomes]
    done = [outcome for _, outcome in outcomes]
    return pa.Table.from_arrays(
        [
            pa.array([o.ids for o in done], pa.list_(pa.int32())),
            pa.array([[1] * len(o.ids) for o in done], pa.list_(pa.int8())),
            pa.array(
                [o.values for o in done],
                pa.list_(pa.int32() if column.value_type == "int32" else pa.int8()),
            ),
            pa.array([o.status for o in done], pa.string()),
            pa.array([o.message for o in done], pa.string()),
            pa.array([ref.source for ref in refs], pa.string()),
            pa.array([ref.row for ref in refs], pa.int64()),
            pa.array([ref.line for ref in refs], pa.int64()),
            pa.array([o.trained for o in done], pa.int32()),
            pa.array([o.truncated for o in done], pa.bool_()),
        ],
        schema=_schema(column),
    )


def _map_dataset_batch(table: Any, indices: list[int], *, part: Any, plan: TokenizePlan) -> Any:
    """One Arrow batch of a `datasets.Dataset` part: decoded and normalised as `lossmask.data`
    reads it, then tokenised (top level: `map` pickles it to its workers)."""
    from lossmask.data.errors import RowRef
    from lossmask.data.source import row_item

    outcomes = []
    for index, raw in zip(indices, table.to_pylist(), strict=True):
        ref, decoded = part.decoded(RowRef(part.label, index), raw)
        outcomes.append((ref, tokenize_item(row_item(index, ref, decoded), plan)))
    return _table(outcomes, plan.column)


def _map_jsonl_batch(table: Any, indices: list[int], *, label: str, plan: TokenizePlan) -> Any:
    """One batch of a JSON Lines file's lines (`_RAW_LINE`, `LINE`), parsed as `lossmask.data`
    parses them."""
    from lossmask.data.errors import RowRef
    from lossmask.data.parts import parse_jsonl_line
    from lossmask.data.source import row_item

    outcomes = []
    lines = table.column(LINE).to_pylist()
    for index, text, line in zip(indices, table.column(_RAW_LINE).to_pylist(), lines, strict=True):
        ref = RowRef(label, index, line)
        raw = parse_jsonl_line(ref, text.encode("utf-8"))
        outcomes.append((ref, tokenize_item(row_item(index, ref, raw), plan)))
    return _table(outcomes, plan.column)


def _jsonl_lines(path: str) -> Iterable[dict[str, Any]]:
    """The non-blank lines of a JSON Lines file with their line numbers, as `JsonlPart` counts."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                text = line.rstrip(b"\r\n").decode("utf-8", errors="surrogateescape")
                yield {_RAW_LINE: text, LINE: number}


def map_part(
    part: Any,
    plan: TokenizePlan,
    *,
    num_proc: int | None,
    cache_dir: str,
    progress: bool = False,
    desc: str | None = None,
) -> Any:
    """One part of a source (`lossmask.data`'s `JsonlPart` or `DatasetPart`) tokenised by
    `datasets.map`: one row out per row in, with its status. The result lives in `cache_dir`."""
    import datasets

    from lossmask.data.loading import import_datasets
    from lossmask.data.parts import JsonlPart

    import_datasets()  # offline, quiet
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # workers fork after tokenizing
    if isinstance(part, JsonlPart):
        from datasets import Features, Value

        table = datasets.Dataset.from_generator(
            _jsonl_lines,
            gen_kwargs={"path": str(part.path)},
            features=Features({_RAW_LINE: Value("large_string"), LINE: Value("int64")}),
            cache_dir=cache_dir,
            fingerprint=uuid.uuid4().hex,  # never a cached copy of an older version of the file
        )
        function: Callable[..., Any] = _map_jsonl_batch
        kwargs: dict[str, Any] = {"label": part.label, "plan": plan}
    else:
        table = part.dataset
        function, kwargs = _map_dataset_batch, {"part": part, "plan": plan}
    name = uuid.uuid4().hex
    if progress:
        datasets.enable_progress_bars()
    try:
        return (
            table.with_format("arrow")
            .map(
                function,
                fn_kwargs=kwargs,
                batched=True,
                batch_size=BATCH_ROWS,
                with_indices=True,
                remove_columns=table.column_names,
                features=features(plan.column),
                num_proc=num_proc if num_proc and num_proc > 1 else None,
                cache_file_name=os.path.join(cache_dir, f"tokenized-{name}.arrow"),
                new_fingerprint=name,
                desc=desc,
            )
            .with_format(None)
        )
    finally:
        if progress:
            datasets.disable_progress_bars()


def plan_for(
    tokenizer: Any,
    renderer: str | None,
    model: str | None,
    loss_mask: Any,
    mask_column: str,
    max_length: int | None,
) -> TokenizePlan:
    from lossmask.masks.engine.contract import coerce_loss_mask

    if mask_column not in MASK_COLUMNS:
        raise ValueError(
            f"unknown mask_column {mask_column!r}; choose from {', '.join(MASK_COLUMNS)}"
        )
    if max_length is not None and max_length < 2:
        raise ValueError(f"max_length must be at least 2 (an input and a target), not {max_length}")
    recipe = BackendRecipe(tokenizer, renderer, model)
    recipe.backend()  # fails here, once, when it cannot be built; forked workers inherit it
    return TokenizePlan(recipe, coerce_loss_mask(loss_mask), MASK_COLUMNS[mask_column], max_length)


def _parts(data: Any) -> list[Any]:
    """The `lossmask.data` parts of what `tokenize` was given."""
    import datasets

    from lossmask.data import open_source
    from lossmask.data.parts import DatasetPart

    if isinstance(data, datasets.Dataset):
        return [DatasetPart(data, "<dataset>")]
    if isinstance(data, str | os.PathLike):
        source = open_source(str(data))
        for problem in source.problems:
            warnings.warn(problem.format(), stacklevel=3)
        return list(source.parts)
    rows = list(data)
    if not all(isinstance(row, Mapping) for row in rows):
        raise TypeError("tokenize takes a datasets.Dataset, a data path, or an iterable of dicts")
    # Rows differ in shape (that is why JSON Lines are read line by line): one JSON text a row.
    import json

    table = datasets.Dataset.from_dict({"messages_json": [json.dumps(row) for row in rows]})
    return [_InMemoryRows(table)]


class _InMemoryRows:
    """Dicts given to `tokenize`, as a part whose rows are JSON texts (row numbers from 0)."""

    label = "<conversations>"

    def __init__(self, table: Any) -> None:
        self.dataset = table

    def decoded(self, ref: Any, row: dict[str, Any]) -> tuple[Any, Any]:
        import json

        return ref, json.loads(row["messages_json"])


def tokenize(
    data: Any,
    tokenizer: Any = None,
    *,
    renderer: str | None = None,
    model: str | None = None,
    loss_mask: Any = "sampled",
    mask_column: str = "labels",
    max_length: int | None = None,
    num_proc: int | None = None,
    skip_bad_rows: bool = False,
) -> Any:
    """Rows of `input_ids`, `attention_mask` (all ones) and `mask_column`, unshifted, as a
    `datasets.Dataset`.

    - `data`: a `datasets.Dataset` (columns as `lossmask.data` reads them: `messages`,
      `prompt`/`completion` or ShareGPT `conversations`, with `tools`), a path or hub id
      `lossmask.data` opens, or an iterable of such row dicts.
    - `tokenizer`: a transformers tokenizer, a local directory, a cached hub id, or None for the
      embedded GLM-4.5 one; `renderer`: None for the chat template, else a `renderers` name;
      `model`: where else a `generation_config.json` (serving stops) may be found.
    - `loss_mask`: `"sampled"` (default), `"all"` or a role table, as in a v2 config.
    - `mask_column`: `labels` (-100 where untrained), `assistant_masks`, `completion_mask` or
      `loss_mask` (1 where trained).
    - `max_length`: keep the first `max_length` ids of each row (TRL's `keep_start`).
    - `num_proc`: `datasets.map` processes.

    A row with nothing to train (within `max_length`) is dropped, as every trainer drops it. A
    row that cannot be read or masked raises `TokenizeError` naming every such row, unless
    `skip_bad_rows` drops them (with a warning that counts them).
    """
    import datasets
    from datasets.fingerprint import get_temporary_cache_files_directory

    plan = plan_for(tokenizer, renderer, model, loss_mask, mask_column, max_length)
    cache_dir = get_temporary_cache_files_directory()  # deleted when the process ends
    parts = _parts(data)
    mapped = [map_part(part, plan, num_proc=num_proc, cache_dir=cache_dir) for part in parts]
    table = mapped[0] if len(mapped) == 1 else datasets.concatenate_datasets(mapped)
    errors = table.filter(lambda status: status == ERROR, input_columns=STATUS)
    if len(errors):
        problems = [problem_line(row) for row in errors.select(range(min(len(errors), 10)))]
        if not skip_bad_rows:
            raise TokenizeError(problems, len(errors))
        warnings.warn(
            f"tokenize: dropped {len(errors)} row(s) that could not be tokenised, e.g. "
            + problems[0],
            stacklevel=2,
        )
    kept = table.filter(lambda status: status == OK, input_columns=STATUS)
    return kept.select_columns(row_columns(plan.column))


def problem_line(row: Mapping[str, Any]) -> str:
    """`source:line: row N: why` for a mapped row that was not tokenised."""
    line = row[LINE]
    return f"{row[SOURCE]}{f':{line}' if line is not None else ''}: row {row[ROW]}: {row[MESSAGE]}"
