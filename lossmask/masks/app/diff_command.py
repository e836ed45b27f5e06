"""`lossmask diff A B --data SOURCE` once parsed: build both sides, compare every row, report.

A side is a config (`*.toml`, read by `mask_setup_from_config`, the one config-to-run reader)
or rows a trainer prepared (anything else, read as `audit --tokenized` reads them). Exit 0 when
the two train the same tokens on every row, 1 when they differ (a CI job can gate an upgrade of
renderers, transformers or a template on it), 2 on an error.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any

from lossmask.errors import ConfigError, Problem
from lossmask.masks.app.audit import RowError
from lossmask.masks.app.commands import MaskCommandReport, _emit, _reporting
from lossmask.masks.app.output import CommandOutput, Echo
from lossmask.masks.engine.sample import MaskError


@dataclass(frozen=True)
class DiffOptions:
    a: str
    b: str
    data: str | None = None
    output_format: str = "text"
    show: int = 1  # differing rows shown token by token
    jobs: int = 1
    overrides: tuple[str, ...] = ()
    mask_column: str | None = None
    color: bool | None = None
    reader: str | None = None  # how configs are read (--reader)
    reader_b: str | None = None  # how config B is read, when not as A (--reader-b)


@dataclass(frozen=True)
class ConfigSide:
    setup: Any  # MaskSetup

    @property
    def label(self) -> str:
        reading = self.setup.reading
        return f"{self.setup.label}: {self.setup.description}" + (
            f", read as {reading.label}" if reading is not None else ""
        )

    def mask(self, item: Any, _row: Any) -> tuple[list[int], list[bool], Any]:
        from lossmask.masks.engine.build import mask_conversation

        sequence = mask_conversation(item.conversation, self.setup.loss_mask, self.setup.backend())
        return sequence.ids, sequence.mask, sequence


@dataclass(frozen=True)
class TokenizedSide:
    path: str
    source: Any  # a TOKENIZED DataSource
    column: Any  # MaskColumn

    @property
    def label(self) -> str:
        return f"{self.path}: {self.column.name} as stored"

    def mask(self, _item: Any, row: Any) -> tuple[list[int], list[bool], Any]:
        from lossmask.integrations.columns import read_row

        ids, mask = read_row(row.columns, self.column)
        return ids, mask, None


def _side(path: str, options: DiffOptions, report: MaskCommandReport, reader: str | None) -> Any:
    if path.endswith(".toml"):
        from lossmask.masks.app.setup import mask_setup_from_config

        setup = mask_setup_from_config(path, options.overrides, reader=reader)
        report.problems.extend(setup.warnings)
        return ConfigSide(setup)
    from lossmask.data import TOKENIZED, open_source
    from lossmask.integrations.columns import find_mask_column

    source = open_source(path, shape=TOKENIZED)
    if source.problems:
        raise MaskError("; ".join(problem.format() for problem in source.problems))
    try:
        column = find_mask_column(source.parts[0].columns() or [], options.mask_column)
    except ValueError as error:
        raise MaskError(f"{path}: {error}") from None
    return TokenizedSide(path, source, column)


def _diff_chunk(items: Any, a: Any, b: Any, show: int) -> Any:
    """One chunk of rows (top level: workers pickle it)."""
    from lossmask.data import DataRowError, iter_tokenized
    from lossmask.integrations.columns import ColumnError
    from lossmask.masks.app.diff import DiffReport

    report = DiffReport(a.label, b.label, show_rows=show)
    items = list(items)
    indices = [item.index for item in items if not isinstance(item, DataRowError)]
    prepared: dict[int, Any] = {}
    for side in (a, b):
        if isinstance(side, TokenizedSide):
            # One item per index, ascending, whether the row reads or not.
            prepared = dict(zip(indices, iter_tokenized(side.source, indices), strict=True))
    for item in items:
        ref = item.ref
        if isinstance(item, DataRowError):
            report.errors.append(RowError(ref.source, ref.row, ref.line, item.message))
            continue
        row = prepared.get(item.index)
        try:
            if row is not None and isinstance(row, DataRowError):
                raise ColumnError(row.message)
            ids_a, mask_a, seq_a = a.mask(item, row)
            ids_b, mask_b, seq_b = b.mask(item, row)
        except (MaskError, ColumnError) as error:
            report.errors.append(RowError(ref.source, ref.row, ref.line, str(error)))
            continue
        where = (
            f"{ref.source}:{ref.line}" if ref.line is not None else f"{ref.source} row {ref.row}"
        )
        report.add_row(
            where,
            (ids_a, mask_a, None if seq_a is None else seq_a.provenance),
            (ids_b, mask_b, None if seq_b is None else seq_b.provenance),
        )
    return report


def execute_diff(options: DiffOptions, echo: Echo | None = None) -> MaskCommandReport:
    report = MaskCommandReport()
    output = CommandOutput(options.output_format, *(() if echo is None else (echo,)))
    with _reporting(report, options.a):
        _diff(options, output, report)
    return _emit(report)


def _diff(options: DiffOptions, output: CommandOutput, report: MaskCommandReport) -> None:
    from lossmask.data import map_chunks
    from lossmask.masks.app.diff import format_diff

    a = _side(options.a, options, report, options.reader)
    b = _side(options.b, options, report, options.reader_b or options.reader)
    configs = [side for side in (a, b) if isinstance(side, ConfigSide)]
    if not configs:
        raise MaskError("diff needs a config on at least one side (A or B): it renders SOURCE")
    source = configs[0].setup.data_source(options.data)
    report.problems.extend(part.to_problem() for part in source.problems)
    if source.problems:
        report.error = True
    for side in (a, b):
        if isinstance(side, TokenizedSide) and len(side.source) != len(source):
            message = (
                f"has {len(side.source)} rows but {source.label} has {len(source)}: diff compares "
                "row i with conversation i, so both must hold the same rows in the same order"
            )
            raise ConfigError([Problem(message, file=side.path)])
    for side in configs:
        side.setup.backend()  # built once here; forked workers inherit it
    chunk = functools.partial(_diff_chunk, a=a, b=b, show=options.show)
    diff = None
    for part in map_chunks(source, chunk, jobs=options.jobs, progress=sys.stderr.isatty()):
        if diff is None:
            diff = part
        else:
            diff.merge(part)
    assert diff is not None
    tokenizer = configs[0].setup.backend().tokenizer
    diff.token_text = lambda token: tokenizer.convert_ids_to_tokens(token)
    for error in diff.errors:
        report.problems.append(error.problem())
    if diff.differs:
        report.failing.append(f"A and B train different tokens on {diff.rows_differing} rows")
    text = format_diff(diff)
    if diff.shown and not output.json:
        text += "\n\n" + "\n\n".join(
            _show_row(row, configs[0], a, b, options) for row in diff.shown
        )
    output.write(text, diff.to_json(), color=options.color)


def _show_row(row: Any, config: ConfigSide, a: Any, b: Any, options: DiffOptions) -> str:
    """One differing row, token by token: yellow trained only in A, magenta only in B."""
    from lossmask.masks.app.view import build_view, render_terminal
    from lossmask.masks.engine.sample import MaskedSequence, shift_and_truncate
    from lossmask.terminal import color_by_default

    stops = frozenset(config.setup.backend().stop_token_ids())
    provenance = row.provenance[: len(row.ids)]
    sample_a, sample_b = (
        shift_and_truncate(MaskedSequence(row.ids, mask, provenance, stops))
        for mask in (row.mask_a, row.mask_b)
    )
    view = build_view(
        config.setup.backend().tokenizer,
        sample_a,
        title=row.where,
        setting=f"A: {a.label}",
        other=sample_b,
        other_setting=f"B: {b.label}",
    )
    color = options.color if options.color is not None else color_by_default(sys.stdout)
    return render_terminal(view, color=color)
