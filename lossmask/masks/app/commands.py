"""What `lossmask show` and `lossmask audit` do once their options are parsed.

Each `execute_*` prints its output, writes every warning and error as a `Problem` line on stderr,
and returns a report whose `exit_code` is the only place the exit code is decided: 0 fine; 1
something to fix (a stop rate under the threshold, a conversation that cannot be masked); 2 an
error (bad config, unreadable data, a backend that cannot be built, a bad option).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from lossmask.errors import ConfigError, Problem
from lossmask.exit_codes import ExitCode
from lossmask.masks.engine.sample import MaskError
from lossmask.terminal import color_by_default

Echo = Callable[..., None]


@dataclass(frozen=True)
class ShowOptions:
    config: str
    data: str | None
    index: int | None  # None: row 0, unless `random` picks rows
    compare: str | None
    mode: str | None
    html: str | None
    color: bool | None
    random: int | None = None  # show this many rows picked at random (with `seed`)
    seed: int = 0
    overrides: tuple[str, ...] = ()  # `--set KEY=VALUE`, applied to both configs
    ids: bool = False  # also list every target: position, token id, token, trained
    reader: str | None = None  # `--reader` (lossmask.readers); None: [tool.lossmask], else default


@dataclass(frozen=True)
class AuditOptions:
    configs: tuple[str, ...]
    data: str | None
    output_format: str
    fail_under_stop_rate: float | None
    sample: int | None = None  # audit this many rows picked at random (with `seed`)
    seed: int = 0
    jobs: int = 1
    overrides: tuple[str, ...] = ()  # `--set KEY=VALUE`, applied to every config
    reader: str | None = None  # `--reader` (lossmask.readers); None: [tool.lossmask], else default


@dataclass
class MaskCommandReport:
    """What a `show` or `audit` run found; decides the exit code."""

    problems: list[Problem] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)  # thresholds not met
    error: bool = False  # the command could not do its job

    @property
    def exit_code(self) -> ExitCode:
        if self.error:
            return ExitCode.ERROR
        if self.failing or any(p.severity == "error" for p in self.problems):
            return ExitCode.FOUND
        return ExitCode.OK


class _Abort(Exception):
    """Stop the command: its problems are already in the report."""


@contextmanager
def _reporting(report: MaskCommandReport, file: str | None) -> Iterator[None]:
    """Config, data and backend errors become Problem lines and exit code 2; warnings raised
    through `warnings.warn` by lossmask or its libraries become Problem warning lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except ConfigError as error:
            report.problems.extend(error.problems)
            report.error = True
        except (MaskError, OSError) as error:
            report.problems.append(Problem(str(error), file=file))
            report.error = True
        except _Abort:
            pass
    seen: set[str] = set()
    for warning in caught:
        text = str(warning.message)
        if text not in seen:
            seen.add(text)
            report.problems.append(Problem(text, file=file, severity="warning"))


def _emit(report: MaskCommandReport) -> MaskCommandReport:
    for problem in report.problems:
        click.echo(problem.format(), err=True)
    return report


def execute_show(options: ShowOptions, echo: Echo = click.echo) -> MaskCommandReport:
    report = MaskCommandReport()
    with _reporting(report, options.config):
        _show(options, echo, report)
    return _emit(report)


def _show(options: ShowOptions, echo: Echo, report: MaskCommandReport) -> None:
    from lossmask.data import DataRowError, iter_conversations, select_rows
    from lossmask.masks.app.setup import mask_setup_from_config

    if options.compare and options.mode:
        raise MaskError("give --compare or --mode, not both")
    setup = mask_setup_from_config(options.config, options.overrides, reader=options.reader)
    report.problems.extend(setup.warnings)
    report.problems.extend(setup.backend_problems())
    other = None
    if options.compare:
        other = mask_setup_from_config(options.compare, options.overrides, reader=options.reader)
        report.problems.extend(other.warnings)
        report.problems.extend(other.backend_problems())
    elif options.mode:
        other = setup.with_mode(options.mode)
    source = setup.data_source(options.data)
    report.problems.extend(part.to_problem() for part in source.problems)
    index = options.index if options.index is not None or options.random else 0
    try:
        rows = select_rows(source, index=index, random_rows=options.random, seed=options.seed)
    except ValueError as error:
        raise MaskError(str(error)) from None
    for item in iter_conversations(source, rows):
        if isinstance(item, DataRowError):
            report.problems.append(item.to_problem())
            continue
        _show_row(item, setup, other, options, echo, report)
    if source.problems:
        report.error = True


def _show_row(
    item: Any, setup: Any, other: Any, options: ShowOptions, echo: Echo, report: MaskCommandReport
) -> None:
    from lossmask.masks.app.view import build_view, render_html, render_terminal
    from lossmask.masks.engine.build import mask_conversation
    from lossmask.masks.engine.sample import shift_and_truncate

    ref = item.ref
    backend = setup.backend()
    try:
        sequence = mask_conversation(item.conversation, setup.loss_mask, backend)
        other_sample = None
        if other is not None:
            other_sequence = mask_conversation(item.conversation, other.loss_mask, other.backend())
            other_sample = shift_and_truncate(other_sequence, other.seq_len)
    except MaskError as error:  # this row cannot be masked: something to fix in the data
        report.problems.append(Problem(f"row {ref.row}: {error}", file=ref.source, line=ref.line))
        return
    sample = shift_and_truncate(sequence, setup.seq_len)
    if other_sample is not None and other_sample.target_ids != sample.target_ids:
        raise MaskError(
            f"{setup.description} and {other.description} render this conversation as "
            "different tokens, so they cannot be compared token by token; show each alone"
        )
    where = f" (line {ref.line})" if ref.line is not None else ""
    view = build_view(
        backend.tokenizer,
        sample,
        title=f"{ref.source} row {ref.row}{where}",
        setting=f"{setup.label}: {setup.description}",
        other=other_sample,
        other_setting=f"{other.label}: {other.description}" if other else None,
        tags_disagree=frozenset(k - 1 for k in sequence.tag_disagreements if k > 0),
    )
    color = options.color if options.color is not None else color_by_default(sys.stdout)
    echo(render_terminal(view, color=color), color=color)
    if options.ids:
        echo(_id_table(backend.tokenizer, sample))
    if options.html:
        Path(options.html).write_text(render_html(view), encoding="utf-8")
        echo(f"wrote {options.html}")


def _id_table(tokenizer: Any, sample: Any) -> str:
    """Every target as `position  id  token  trained`, the ids a trainer would see."""
    tokens = tokenizer.convert_ids_to_tokens(sample.target_ids)
    rows = ["position     id  trained  token"]
    for position, (token_id, token, trained) in enumerate(
        zip(sample.target_ids, tokens, sample.loss_mask, strict=True)
    ):
        rows.append(f"{position:8d} {token_id:6d}  {'yes' if trained else 'no':7s}  {token!r}")
    return "\n".join(rows)


def _audit_chunk(items: Any, setup: Any, label: str) -> Any:
    """One chunk's audit, its totals left open (a top-level function: workers pickle it)."""
    from lossmask.masks.app.audit import audit_conversations

    return audit_conversations(
        items, setup.loss_mask, setup.backend(), seq_len=setup.seq_len, label=label, finish=False
    )


def _audit_source(source: Any, setup: Any, label: str, rows: Any, jobs: int) -> Any:
    """The audit of `rows` (None: all) of `source`, in `jobs` processes, with a progress bar."""
    import functools

    from lossmask.data import map_chunks
    from lossmask.masks.engine.contract import coerce_loss_mask

    setup.backend()  # built once here: forked workers inherit it
    chunk = functools.partial(_audit_chunk, setup=setup, label=label)
    total = None
    for part in map_chunks(source, chunk, jobs=jobs, rows=rows, progress=True):
        if total is None:
            total = part
        else:
            total.merge(part)
    if total is None:  # no rows at all
        total = _audit_chunk([], setup, label)
    total.stats.finish(coerce_loss_mask(setup.loss_mask))
    return total


def execute_audit(options: AuditOptions, echo: Echo = click.echo) -> MaskCommandReport:
    report = MaskCommandReport()
    with _reporting(report, options.configs[0] if len(options.configs) == 1 else None):
        _audit(options, echo, report)
    return _emit(report)


def _audit(options: AuditOptions, echo: Echo, report: MaskCommandReport) -> None:
    from lossmask.data import sample_rows
    from lossmask.masks.app.audit import format_report
    from lossmask.masks.app.setup import mask_setup_from_config
    from lossmask.schema.roles import describe_loss_mask

    threshold = options.fail_under_stop_rate
    if threshold is not None and threshold > 1:
        threshold /= 100  # accept 95 as well as 0.95
    audits = []
    for config in options.configs:
        setup = mask_setup_from_config(config, options.overrides, reader=options.reader)
        report.problems.extend(setup.warnings)
        report.problems.extend(setup.backend_problems())
        source = setup.data_source(options.data)
        report.problems.extend(part.to_problem() for part in source.problems)
        if source.problems:
            report.error = True  # the readable parts are still audited
        rows = None
        if options.sample is not None:
            try:
                rows = sample_rows(len(source), options.sample, options.seed)
            except ValueError as error:
                raise MaskError(str(error)) from None
        audit = _audit_source(source, setup, config, rows, options.jobs)
        audits.append(audit)
        for rows in audit.refused().values():  # one line per reason, not one per row
            problem = rows[0].problem()
            if len(rows) > 1:
                more = len(rows) - 1
                problem = replace(
                    problem,
                    message=f"{problem.message} (and {more} more row{'s' * (more > 1)} like it)",
                )
            report.problems.append(problem)
        for warning in audit.stats.warnings:
            report.problems.append(
                Problem(warning, ("data", "loss_mask"), config, severity="warning")
            )
        rate = audit.lowest_stop_rate()
        if threshold is not None and rate is not None and rate < threshold:
            report.failing.append(
                f"{config}: lowest stop rate {rate:.1%} of {describe_loss_mask(setup.loss_mask)}"
                f" is under {threshold:.1%}"
            )
    from lossmask.masks.app.output import CommandOutput

    payload = {"reports": [a.to_json() for a in audits], "failing": report.failing}
    text = "\n\n".join(format_report(audit) for audit in audits)
    CommandOutput(options.output_format, echo).write(
        text + "".join(f"\nFAIL {line}" for line in report.failing), payload
    )
