"""`lossmask export CONFIG --data SOURCE --format trl|labels|verl|slime -o OUT`.

Writes the config's mask as pre-tokenised rows a trainer loads as they are (docs/integrations.md):
`input_ids`, `attention_mask` and one mask column (`columns.EXPORT_FORMATS`), unshifted. `OUT`
decides the file kind: `*.parquet`, `*.arrow` (an Arrow stream, `load_dataset("arrow")`), or any
other name a `save_to_disk` folder (`load_from_disk`; axolotl's and LLaMA-Factory's
prepared-data format). Beside it, `OUT.manifest.json` (inside a folder:
`lossmask-manifest.json`) records what made it.

How it runs: the source is read by `lossmask.data` (the reader `show`, `audit` and `train` use),
tokenised by `datasets.map(num_proc=-j)` into Arrow files in a temporary folder (memory stays flat
in the rows: nothing is held but one batch), then streamed into `OUT`, written beside it under a
temporary name and renamed at the end, so a failed run leaves nothing half-written. A row that
cannot be read or masked is named on stderr and skipped; a row with nothing to train is skipped
and counted, as every trainer would drop it. A part of the source that cannot be read at all
stops the export (exit 2): a training set silently missing a file is worse than none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmask.errors import Problem
from lossmask.integrations.columns import EXPORT_FORMATS, row_columns
from lossmask.integrations.tokenize import (
    ERROR,
    LINE,
    MESSAGE,
    OK,
    ROW,
    SKIPPED,
    SOURCE,
    STATUS,
    TRAINED,
    TRUNCATED,
    TokenizePlan,
    map_part,
    plan_for,
)
from lossmask.masks.app.commands import MaskCommandReport, _Abort, _emit, _reporting
from lossmask.masks.app.output import CommandOutput, Echo
from lossmask.masks.engine.sample import MaskError

MANIFEST_SUFFIX = ".manifest.json"
FOLDER_MANIFEST = "lossmask-manifest.json"


@dataclass(frozen=True)
class ExportOptions:
    config: str
    data: str | None
    export_format: str  # a key of EXPORT_FORMATS
    output: str
    jobs: int = 1
    max_length: int | None = None  # None: the config's seq_len + 1 ids, if it sets seq_len
    overrides: tuple[str, ...] = ()
    force: bool = False
    output_format: str = "text"
    reader: str | None = None  # --reader; None: [tool.lossmask] reader, else the default


@dataclass
class ExportCounts:
    rows: int = 0
    exported: int = 0
    skipped_nothing_to_train: int = 0
    errors: int = 0
    truncated: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    error_lines: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "exported": self.exported,
            "skipped_nothing_to_train": self.skipped_nothing_to_train,
            "errors": self.errors,
            "truncated": self.truncated,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
        }


def output_kind(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return {".parquet": "parquet", ".arrow": "arrow"}.get(suffix, "folder")


def manifest_path(output: str) -> Path:
    if output_kind(output) == "folder":
        return Path(output) / FOLDER_MANIFEST
    return Path(output + MANIFEST_SUFFIX)


def execute_export(options: ExportOptions, echo: Echo | None = None) -> MaskCommandReport:
    report = MaskCommandReport()
    output = CommandOutput(options.output_format, *(() if echo is None else (echo,)))
    with _reporting(report, options.config):
        _export(options, output, report)
    return _emit(report)


def _export(options: ExportOptions, output: CommandOutput, report: MaskCommandReport) -> None:
    from lossmask.masks.app.setup import mask_setup_from_config

    if options.export_format not in EXPORT_FORMATS:
        raise MaskError(
            f"unknown --format {options.export_format!r}; choose from {', '.join(EXPORT_FORMATS)}"
        )
    target = Path(options.output)
    if target.exists() and not options.force:
        raise MaskError(f"{target} exists; pass --force to replace it")
    setup = mask_setup_from_config(options.config, options.overrides, reader=options.reader)
    report.problems.extend(setup.warnings)
    source = setup.data_source(options.data)
    if source.problems:
        report.problems.extend(part.to_problem() for part in source.problems)
        report.problems.append(
            Problem(
                "nothing written: a part of the data cannot be read, and an export without it "
                "would train on less than the config names",
                file=options.config,
                suggestion="fix or leave out the unreadable part (--data, data.data_files)",
            )
        )
        report.error = True
        raise _Abort
    max_length = options.max_length
    if max_length is None and setup.seq_len is not None:
        max_length = setup.seq_len + 1  # seq_len inputs and their targets, as lossmask trains
    plan = plan_for(
        setup.tokenizer,
        setup.renderer,
        setup.model,
        setup.loss_mask,
        EXPORT_FORMATS[options.export_format],
        max_length,
    )
    counts = ExportCounts()
    with tempfile.TemporaryDirectory(prefix="lossmask-export-") as work:
        mapped = [
            map_part(
                part,
                plan,
                num_proc=options.jobs,
                cache_dir=work,
                progress=not output.json and sys.stderr.isatty(),
                desc=f"lossmask export: {part.label}",
            )
            for part in source.parts
        ]
        staged = _write(mapped, plan, target, work, counts)
        manifest = _manifest(options, setup, plan, source.label, counts)
        text = json.dumps(manifest, indent=2) + "\n"
        if staged.is_dir():  # the manifest travels inside the folder: one rename for both
            (staged / FOLDER_MANIFEST).write_text(text, encoding="utf-8")
            _replace(staged, target, force=options.force)
        else:
            staged_manifest = Path(work) / "manifest.json"
            staged_manifest.write_text(text, encoding="utf-8")
            _replace(staged, target, force=options.force)
            _replace(staged_manifest, manifest_path(str(target)), force=True)
    report.problems.extend(counts.error_lines)
    output.write(_summary(options, manifest), manifest)


def _batches(dataset: Any, pool: Any) -> Any:
    """A mapped dataset's record batches, read from its Arrow files (never memory-mapped: mapped
    pages would stay resident as the file is read, growing the footprint with the rows)."""
    import pyarrow as pa

    for entry in dataset.cache_files:
        with pa.OSFile(entry["filename"]) as handle:
            yield from pa.ipc.open_stream(handle, memory_pool=pool)


def _write_pool() -> Any:
    """The allocator of the write phase: jemalloc returning freed pages at once, not Arrow's
    default (mimalloc), which at this churn keeps them resident.

    The write reads, filters and encodes one batch at a time, a few MiB live. On mimalloc the
    resident memory of a 200,000-row export rose 20-30 MiB over the write's first few hundred
    batches, past what a 20,000-row export reaches; on this pool it reaches its level within the
    first 50 (bench/export_memory.py, `--write-pool default` for the other). The environment's
    `MIMALLOC_PURGE_DELAY=0` also removes the rise, which names the cause, but mimalloc reads it
    only when pyarrow loads. The pool is passed per call, not set as the default, so the caller's
    default is left alone; the decay is a setting of the jemalloc pool, which Arrow uses only where
    asked to (or where ARROW_DEFAULT_MEMORY_POOL=jemalloc makes it the default: then the process
    returns freed pages sooner, nothing else). A pyarrow built without jemalloc gets the C
    library's pool."""
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()
    pa.jemalloc_set_decay_ms(0)
    return pool


def _write(
    mapped: list[Any], plan: TokenizePlan, target: Path, work: str, counts: ExportCounts
) -> Path:
    """The kept rows of `mapped`, written in `work` in `target`'s kind; the counts as it goes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    columns = row_columns(plan.column)
    kind = output_kind(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(work) / ("rows.parquet" if kind == "parquet" else "rows.arrow")
    writer: Any = None
    pool = _write_pool()
    try:
        for dataset in mapped:
            for batch in _batches(dataset, pool):
                _count(batch, counts)
                ok = pc.equal(batch.column(STATUS), OK, memory_pool=pool)
                kept = pc.filter(batch, ok, memory_pool=pool).select(columns)
                if writer is None:
                    writer = (
                        pq.ParquetWriter(staged, kept.schema, memory_pool=pool)
                        if kind == "parquet"
                        else pa.ipc.new_stream(str(staged), kept.schema)
                    )
                if kept.num_rows:
                    writer.write_batch(kept)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows at all: an empty file of the right columns
        raise MaskError("the data has no rows to export")
    if kind == "folder":
        import datasets

        folder = Path(work) / "saved"
        datasets.Dataset.from_file(str(staged)).save_to_disk(str(folder))
        staged.unlink()
        return folder
    return staged


def _count(batch: Any, counts: ExportCounts) -> None:
    import pyarrow.compute as pc

    statuses = batch.column(STATUS).to_pylist()
    tally = Counter(statuses)
    counts.rows += batch.num_rows
    counts.exported += tally[OK]
    counts.skipped_nothing_to_train += tally[SKIPPED]
    counts.errors += tally[ERROR]
    counts.truncated += sum(batch.column(TRUNCATED).to_pylist())
    ok = pc.equal(batch.column(STATUS), OK)
    counts.trained_tokens += pc.sum(pc.if_else(ok, batch.column(TRAINED), 0)).as_py() or 0
    lengths = pc.list_value_length(batch.column("input_ids"))
    counts.tokens += pc.sum(pc.if_else(ok, lengths, 0)).as_py() or 0
    if tally[ERROR]:
        rows = batch.filter(pc.equal(batch.column(STATUS), ERROR)).to_pylist()
        for row in rows:
            counts.error_lines.append(
                Problem(f"row {row[ROW]}: {row[MESSAGE]}", file=row[SOURCE], line=row[LINE])
            )


def _replace(staged: Path, target: Path, *, force: bool) -> None:
    """Move `staged` to `target` as one rename on the target's file system."""
    beside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        moved = beside / target.name
        shutil.move(str(staged), str(moved))  # a copy when the temporary folder is elsewhere
        if target.exists() and force:
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
        os.replace(moved, target)
    finally:
        shutil.rmtree(beside, ignore_errors=True)


def _manifest(
    options: ExportOptions, setup: Any, plan: TokenizePlan, data: str, counts: ExportCounts
) -> dict[str, Any]:
    from lossmask import __version__
    from lossmask.masks.app.setup import tokenizer_to_load
    from lossmask.schema.roles import describe_loss_mask

    backend = plan.recipe.backend()
    tokenizer = backend.tokenizer
    template = getattr(tokenizer, "chat_template", None)
    stops = backend.stop_token_ids()
    return {
        "lossmask_version": __version__,
        "config": options.config,
        "reader": setup.reading.label if setup.reading is not None else "lossmask schema",
        "loss_mask": describe_loss_mask(setup.loss_mask),
        "backend": backend.name,
        "tokenizer": {
            "name": tokenizer_to_load(setup.tokenizer, setup.model) or "embedded",
            "name_or_path": getattr(tokenizer, "name_or_path", None),
            "vocab_size": len(tokenizer),
            "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest()
            if isinstance(template, str) and setup.renderer is None
            else None,
        },
        "renderer": setup.renderer,
        "serving_stop_ids": stops,
        "serving_stop_tokens": tokenizer.convert_ids_to_tokens(stops),
        "data": data,
        "format": options.export_format,
        "columns": row_columns(plan.column),
        "mask_column": plan.column.name,
        "aligned": "unshifted: entry k of the mask column is about input_ids[k] as a target",
        "max_length": plan.max_length,
        "output": options.output,
        "counts": counts.to_json(),
    }


def _summary(options: ExportOptions, manifest: dict[str, Any]) -> str:
    counts = manifest["counts"]
    return "\n".join(
        [
            f"{options.output}: {counts['exported']} rows of input_ids + "
            f"{manifest['mask_column']} ({options.export_format}), "
            f"{manifest['loss_mask']} on {manifest['backend']}"
            + (f", max_length {manifest['max_length']}" if manifest["max_length"] else ""),
            f"  rows {counts['rows']}, exported {counts['exported']}, skipped (nothing to train) "
            f"{counts['skipped_nothing_to_train']}, errors {counts['errors']}, truncated "
            f"{counts['truncated']}",
            f"  tokens {counts['tokens']}, trained {counts['trained_tokens']}",
            f"  manifest: {manifest_path(options.output)}",
        ]
    )
