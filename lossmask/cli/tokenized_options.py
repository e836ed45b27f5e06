"""The options `audit` and `show` take to read rows another trainer prepared (`--tokenized`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--tokenized",
        metavar="SOURCE",
        help="Read rows a trainer prepared (input_ids + labels / assistant_masks / "
        "completion_mask / loss_mask) instead of rendering conversations.",
    ),
    click.option(
        "--tokenizer",
        metavar="PATH_OR_HUB_ID",
        help="With --tokenized: the tokenizer the rows were made with (else the CONFIG's).",
    ),
    click.option(
        "--renderer",
        metavar="NAME",
        help="With --tokenized: read the serving stops from this renderer.",
    ),
    click.option(
        "--mask-column",
        metavar="NAME",
        help="With --tokenized: the mask column (default: the one of labels, assistant_masks, "
        "completion_mask, loss_mask the rows have).",
    ),
)


def tokenized_options(function: F) -> F:
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def check_tokenized_use(
    configs: tuple[str, ...], tokenized: str | None, tokenizer: str | None, **others: Any
) -> None:
    """Usage errors (exit 2) for the combinations that mean nothing."""
    if tokenized is None:
        given = [f"--{name.replace('_', '-')}" for name, value in others.items() if value]
        if tokenizer:
            given.insert(0, "--tokenizer")
        if given:
            raise click.UsageError(f"{', '.join(given)} only go with --tokenized SOURCE")
        if not configs:
            raise click.UsageError("give a CONFIG (or --tokenized SOURCE with --tokenizer)")
        return
    if len(configs) > 1:
        raise click.UsageError("--tokenized reads one dataset: give at most one CONFIG")
