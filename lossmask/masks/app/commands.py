"""What `lossmask show` and `lossmask audit` do once their options are parsed.

Exit codes: 0 fine, 1 something to fix (a stop rate under the threshold, conversations that cannot
be masked), 2 error (bad config, unreadable data, bad option).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from lossmask.errors import ConfigError
from lossmask.masks.engine.sample import MaskError

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


def _report_errors(run: Callable[[], int]) -> int:
    """Config, data and mask errors become one message on stderr and exit code 2."""
    # Our own warnings (one-time notices, roles that train nothing) go to stderr, once each.
    logger = logging.getLogger("lossmask")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("lossmask: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    try:
        return run()
    except ConfigError as error:
        click.echo(str(error), err=True)
    except (MaskError, OSError) as error:
        click.echo(f"error: {error}", err=True)
    return 2


def execute_show(options: ShowOptions, echo: Echo = click.echo) -> int:
    return _report_errors(lambda: _show(options, echo))


def _show(options: ShowOptions, echo: Echo) -> int:
    from lossmask.masks.app.conversations import iter_conversations
    from lossmask.masks.app.setup import backend_for, data_path, settings_from_config
    from lossmask.masks.app.view import build_view, render_html, render_terminal
    from lossmask.masks.engine.build import build_sample

    if options.compare and options.mode:
        raise MaskError("give --compare or --mode, not both")
    settings = settings_from_config(options.config)
    other = None
    if options.compare:
        other = settings_from_config(options.compare)
    elif options.mode:
        other = settings.with_mode(options.mode)
    path = data_path(settings, options.data)
    rows = list(iter_conversations(path))
    if not 0 <= options.index < len(rows):
        raise MaskError(f"--index {options.index} is out of range: {path} has {len(rows)} rows")
    line, conversation = rows[options.index]
    backend = backend_for(settings)
    sample = build_sample(conversation, settings.loss_mask, backend, settings.seq_len)
    title = f"{path} row {options.index} (line {line})"
    other_sample = None
    if other is not None:
        other_sample = build_sample(
            conversation, other.loss_mask, backend_for(other), other.seq_len
        )
        if other_sample.target_ids != sample.target_ids:
            raise MaskError(
                f"{settings.description} and {other.description} render this conversation as "
                "different tokens, so they cannot be compared token by token; show each alone"
            )
    view = build_view(
        backend.tokenizer,
        sample,
        title=title,
        setting=f"{settings.label}: {settings.description}",
        other=other_sample,
        other_setting=f"{other.label}: {other.description}" if other else None,
    )
    color = options.color if options.color is not None else sys.stdout.isatty()
    echo(render_terminal(view, color=color), color=color)
    if options.html:
        Path(options.html).write_text(render_html(view), encoding="utf-8")
        echo(f"wrote {options.html}")
    return 0


def execute_audit(options: AuditOptions, echo: Echo = click.echo) -> int:
    return _report_errors(lambda: _audit(options, echo))


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def _audit(options: AuditOptions, echo: Echo) -> int:
    from lossmask.masks.app.audit import audit_conversations, format_report
    from lossmask.masks.app.conversations import iter_conversations
    from lossmask.masks.app.setup import backend_for, data_path, settings_from_config

    threshold = options.fail_under_stop_rate
    if threshold is not None and threshold > 1:
        threshold /= 100  # accept 95 as well as 0.95
    reports = []
    for config in options.configs:
        settings = settings_from_config(config)
        path = data_path(settings, options.data)
        backend = backend_for(settings)
        total = _count_lines(path)
        show_progress = sys.stderr.isatty() and total >= 500
        with click.progressbar(
            length=total, label=f"auditing {path}", file=sys.stderr, hidden=not show_progress
        ) as bar:
            reports.append(
                audit_conversations(
                    iter_conversations(path),
                    settings.loss_mask,
                    backend,
                    seq_len=settings.seq_len,
                    label=config,
                    on_progress=bar.update,
                )
            )
    failing = []
    for report in reports:
        rate = report.lowest_stop_rate()
        if threshold is not None and rate is not None and rate < threshold:
            failing.append(f"{report.label}: lowest stop rate {rate:.1%} is under {threshold:.1%}")
    if options.output_format == "json":
        echo(json.dumps({"reports": [r.to_json() for r in reports], "failing": failing}, indent=2))
    else:
        echo("\n\n".join(format_report(report) for report in reports))
        for line in failing:
            echo(f"FAIL {line}")
    if failing or any(report.errors for report in reports):
        return 1
    return 0
