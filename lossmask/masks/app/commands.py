"""What `lossmask show` and `lossmask audit` do once their options are parsed.

Each `execute_*` prints its output, writes every warning and error as a `Problem` line on stderr,
and returns a report whose `exit_code` is the only place the exit code is decided: 0 fine; 1
something to fix (a stop rate under the threshold, a conversation that cannot be masked); 2 an
error (bad config, unreadable data, a backend that cannot be built, a bad option).
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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
    index: int
    compare: str | None
    mode: str | None
    html: str | None
    color: bool | None


@dataclass(frozen=True)
class AuditOptions:
    configs: tuple[str, ...]
    data: str | None
    output_format: str
    fail_under_stop_rate: float | None


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
    from lossmask.masks.app.conversations import iter_conversations
    from lossmask.masks.app.setup import mask_setup_from_config
    from lossmask.masks.app.view import build_view, render_html, render_terminal
    from lossmask.masks.engine.build import mask_conversation
    from lossmask.masks.engine.sample import shift_and_truncate

    if options.compare and options.mode:
        raise MaskError("give --compare or --mode, not both")
    setup = mask_setup_from_config(options.config)
    other = None
    if options.compare:
        other = mask_setup_from_config(options.compare)
    elif options.mode:
        other = setup.with_mode(options.mode)
    path = setup.data_path(options.data)
    rows = list(iter_conversations(path))
    if not 0 <= options.index < len(rows):
        raise MaskError(f"--index {options.index} is out of range: {path} has {len(rows)} rows")
    line, conversation = rows[options.index]
    backend = setup.backend()
    try:
        sequence = mask_conversation(conversation, setup.loss_mask, backend)
        other_sample = None
        if other is not None:
            other_sequence = mask_conversation(conversation, other.loss_mask, other.backend())
            other_sample = shift_and_truncate(other_sequence, other.seq_len)
    except MaskError as error:  # this row cannot be masked: something to fix in the data
        report.problems.append(Problem(str(error), file=str(path), line=line))
        raise _Abort from None
    sample = shift_and_truncate(sequence, setup.seq_len)
    if other_sample is not None and other_sample.target_ids != sample.target_ids:
        assert other is not None
        raise MaskError(
            f"{setup.description} and {other.description} render this conversation as "
            "different tokens, so they cannot be compared token by token; show each alone"
        )
    view = build_view(
        backend.tokenizer,
        sample,
        title=f"{path} row {options.index} (line {line})",
        setting=f"{setup.label}: {setup.description}",
        other=other_sample,
        other_setting=f"{other.label}: {other.description}" if other else None,
        tags_disagree=frozenset(k - 1 for k in sequence.tag_disagreements if k > 0),
    )
    color = options.color if options.color is not None else color_by_default(sys.stdout)
    echo(render_terminal(view, color=color), color=color)
    if options.html:
        Path(options.html).write_text(render_html(view), encoding="utf-8")
        echo(f"wrote {options.html}")


def execute_audit(options: AuditOptions, echo: Echo = click.echo) -> MaskCommandReport:
    report = MaskCommandReport()
    with _reporting(report, options.configs[0] if len(options.configs) == 1 else None):
        _audit(options, echo, report)
    return _emit(report)


def _audit(options: AuditOptions, echo: Echo, report: MaskCommandReport) -> None:
    from lossmask.masks.app.audit import audit_conversations, format_report
    from lossmask.masks.app.conversations import count_rows, iter_conversations
    from lossmask.masks.app.setup import mask_setup_from_config
    from lossmask.schema.roles import describe_loss_mask

    threshold = options.fail_under_stop_rate
    if threshold is not None and threshold > 1:
        threshold /= 100  # accept 95 as well as 0.95
    audits = []
    for config in options.configs:
        setup = mask_setup_from_config(config)
        path = setup.data_path(options.data)
        backend = setup.backend()
        total = count_rows(path)
        show_progress = sys.stderr.isatty() and total >= 500
        with click.progressbar(
            length=total, label=f"auditing {path}", file=sys.stderr, hidden=not show_progress
        ) as bar:
            audit = audit_conversations(
                iter_conversations(path),
                setup.loss_mask,
                backend,
                seq_len=setup.seq_len,
                label=config,
                on_progress=bar.update,
            )
        audits.append(audit)
        for row in audit.errors:
            report.problems.append(Problem(row.message, file=str(path), line=row.line))
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
    if options.output_format == "json":
        payload = {"reports": [a.to_json() for a in audits], "failing": report.failing}
        echo(json.dumps(payload, indent=2))
    else:
        echo("\n\n".join(format_report(audit) for audit in audits))
        for line in report.failing:
            echo(f"FAIL {line}")
