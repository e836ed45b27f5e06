"""`lossmask audit --tokenized SOURCE` and `lossmask show --tokenized SOURCE`, once parsed.

The tokenizer the rows were made with comes from `--tokenizer` (a local directory, a cached hub id
or `embedded:...`; `--renderer` to read the serving stops from a renderer), or from a CONFIG's
`[tokenizer]`, `[model]` and `[renderer]` through the same `MaskSetup` every command uses.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossmask.errors import Problem
from lossmask.masks.app.commands import MaskCommandReport, _Abort, _emit, _reporting
from lossmask.masks.app.output import CommandOutput, Echo
from lossmask.masks.engine.sample import MaskError


@dataclass(frozen=True)
class TokenizedOptions:
    source: str
    config: str | None = None  # its [tokenizer]/[model]/[renderer] name the tokenizer
    tokenizer: str | None = None
    renderer: str | None = None
    mask_column: str | None = None
    output_format: str = "text"
    fail_under_stop_rate: float | None = None
    jobs: int = 1
    overrides: tuple[str, ...] = ()
    reader: str | None = None  # how CONFIG is read (--reader)
    index: int | None = None  # show: the row
    color: bool | None = None  # show
    html: str | None = None  # show


@functools.cache
def locator_for(tokenizer: str | None, model: str | None, renderer: str | None) -> Any:
    """The turn locator of a backend, built once per process (forked workers inherit it)."""
    from lossmask.masks.app.setup import mask_backend
    from lossmask.masks.app.turns import TurnLocator

    return TurnLocator.for_backend(
        mask_backend(tokenizer=tokenizer, model=model, renderer=renderer)
    )


def _backend_names(options: TokenizedOptions, report: MaskCommandReport) -> tuple[Any, ...]:
    if options.config is not None:
        if options.tokenizer is not None or options.renderer is not None:
            raise MaskError("give a CONFIG or --tokenizer/--renderer, not both")
        from lossmask.masks.app.setup import mask_setup_from_config

        setup = mask_setup_from_config(options.config, options.overrides, reader=options.reader)
        report.problems.extend(setup.warnings)
        return setup.tokenizer, setup.model, setup.renderer
    if options.tokenizer is None:
        raise MaskError(
            "--tokenized needs the tokenizer the rows were made with: --tokenizer PATH_OR_HUB_ID "
            "(or embedded:glm-4.5, ...), or a CONFIG whose [tokenizer] names it"
        )
    return options.tokenizer, None, options.renderer


def _open(options: TokenizedOptions, report: MaskCommandReport) -> tuple[Any, Any]:
    """The tokenised source, and its mask column."""
    from lossmask.data import TOKENIZED, DataError, open_source
    from lossmask.integrations.columns import ColumnError, find_mask_column

    try:
        source = open_source(options.source, shape=TOKENIZED)
    except DataError as error:
        report.problems.extend(part.to_problem() for part in error.errors)
        report.error = True
        raise _Abort from None
    report.problems.extend(part.to_problem() for part in source.problems)
    if source.problems:
        report.error = True
    try:
        column = find_mask_column(source.parts[0].columns() or [], options.mask_column)
        for part in source.parts[1:]:
            find_mask_column(part.columns() or [], column.name)
    except ColumnError as error:
        report.problems.append(Problem(str(error), file=options.source))
        report.error = True
        raise _Abort from None
    return source, column


def _chunk(items: Any, names: tuple[Any, ...], column: Any, label: str) -> Any:
    """One chunk's audit (top level: worker processes pickle it)."""
    from lossmask.masks.app.tokenized import audit_tokenized_rows

    return audit_tokenized_rows(items, locator_for(*names), column, label=label)


def execute_audit_tokenized(
    options: TokenizedOptions, echo: Echo | None = None
) -> MaskCommandReport:
    report = MaskCommandReport()
    output = CommandOutput(options.output_format, *(() if echo is None else (echo,)))
    with _reporting(report, options.config or options.source):
        _audit(options, output, report)
    return _emit(report)


def _audit(options: TokenizedOptions, output: CommandOutput, report: MaskCommandReport) -> None:
    from lossmask.data import map_chunks
    from lossmask.masks.app.tokenized import format_tokenized

    names = _backend_names(options, report)
    locator_for(*names)  # built here: errors are reported once, forked workers inherit it
    source, column = _open(options, report)
    chunk = functools.partial(_chunk, names=names, column=column, label=options.source)
    audit = None
    for part in map_chunks(source, chunk, jobs=options.jobs, progress=sys.stderr.isatty()):
        if audit is None:
            audit = part
        else:
            audit.merge(part)
    assert audit is not None  # an opened source has rows
    for error in audit.errors:
        report.problems.append(error.problem())
    threshold = options.fail_under_stop_rate
    if threshold is not None and threshold > 1:
        threshold /= 100
    rate = audit.lowest_stop_rate()
    if threshold is not None and rate is not None and rate < threshold:
        report.failing.append(
            f"{options.source}: lowest stop rate {rate:.1%} of {column.name} is under "
            f"{threshold:.1%}"
        )
    payload = {"reports": [audit.to_json()], "failing": report.failing}
    text = format_tokenized(audit) + "".join(f"\nFAIL {line}" for line in report.failing)
    output.write(text, payload)


def execute_show_tokenized(
    options: TokenizedOptions, echo: Echo | None = None
) -> MaskCommandReport:
    report = MaskCommandReport()
    output = CommandOutput("text", *(() if echo is None else (echo,)))
    with _reporting(report, options.config or options.source):
        _show(options, output, report)
    return _emit(report)


def _show(options: TokenizedOptions, output: CommandOutput, report: MaskCommandReport) -> None:
    from lossmask.data import DataRowError, iter_tokenized, select_rows
    from lossmask.integrations.columns import ColumnError, read_row
    from lossmask.masks.app.view import build_view, render_html, render_terminal
    from lossmask.terminal import color_by_default

    names = _backend_names(options, report)
    locator = locator_for(*names)
    source, column = _open(options, report)
    try:
        rows = select_rows(source, index=options.index or 0)
    except ValueError as error:
        raise MaskError(str(error)) from None
    for item in iter_tokenized(source, rows):
        if isinstance(item, DataRowError):
            report.problems.append(item.to_problem())
            continue
        try:
            ids, mask = read_row(item.columns, column, len(locator.tokenizer))
        except ColumnError as error:
            report.problems.append(
                Problem(f"row {item.ref.row}: {error}", file=item.ref.source, line=item.ref.line)
            )
            continue
        trainer, sampled = tokenized_samples(locator, ids, mask)
        view = build_view(
            locator.tokenizer,
            trainer,
            title=f"{item.ref.source} row {item.ref.row}",
            setting=f"{column.name} as stored",
            other=sampled,
            other_setting=f"sampled spans located by {locator.backend}",
        )
        color = options.color if options.color is not None else color_by_default(sys.stdout)
        output.echo(render_terminal(view, color=color), color=color)
        if options.html:
            Path(options.html).write_text(render_html(view), encoding="utf-8")
            output.echo(f"wrote {options.html}")


def tokenized_samples(locator: Any, ids: list[int], mask: list[bool]) -> tuple[Any, Any]:
    """(the stored mask, the located sampled spans) as shifted samples `show`'s view compares:
    a token trained only by the first is trained outside any sampled span, one trained only by
    the second is sampled but left untrained."""
    from lossmask.masks.app.tokenized import region_of
    from lossmask.masks.engine.sample import MaskedSequence, ProvenanceColumns, shift_and_truncate

    located = locator.locate(ids)
    sampled = [False] * len(ids)
    for turn in located.turns:
        for k in range(turn.start, turn.end + 1):
            sampled[k] = True
    places: list[str | None] = [
        "assistant" if sampled[k] else region_of(k, located) for k in range(len(ids))
    ]
    stops = locator.stops

    def sample(bits: list[bool], rule: str) -> Any:
        provenance = ProvenanceColumns(
            [None] * len(ids),
            places,
            sampled,
            [False] * len(ids),
            [rule if bit else "untrained" for bit in bits],
        )
        return shift_and_truncate(MaskedSequence(list(ids), bits, provenance, stops))

    return sample(mask, "stored mask"), sample(sampled, "sampled span")
