"""Committed figures are no older than the code that makes them.

The experiment's picture (docs/img/experiment-grid.png) and tables (README.md, docs/benchmarks.md)
are written by `lossmask experiment` (bench/experiment_grid.sh, scripts/main-job.sh) with an
environment line that ends in the hash of the code defining and drawing them
(`figure_environment.FIGURE_CODE`); the picture carries the hash in its PNG metadata. The show
screenshot (docs/img/show.png, scripts/screenshot_show.sh) carries the hash of the page code it
shows. When that code changes, these fail until the figures are made again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from lossmask.reference_trainer.figure_environment import (
    FIGURE_CODE,
    SHOW_CODE,
    code_hash,
    figure_code_hash,
)
from tests.conftest import REPO_ROOT

QUOTED = ("README.md", "docs/benchmarks.md")
HOW = "regenerate with bash bench/experiment_grid.sh and quote its output (docs/benchmarks.md)"


def test_the_hash_covers_the_code_and_changes_with_it(tmp_path: Path) -> None:
    for relative in FIGURE_CODE:
        source = (REPO_ROOT / relative).read_bytes()
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(source)
    assert figure_code_hash(tmp_path) == figure_code_hash()
    (tmp_path / FIGURE_CODE[-1]).write_bytes(source + b"\n# a change\n")
    assert figure_code_hash(tmp_path) != figure_code_hash()


def test_the_experiment_picture_is_as_new_as_its_code() -> None:
    picture = Image.open(REPO_ROOT / "docs" / "img" / "experiment-grid.png")
    assert picture.text.get("lossmask-figure-code") == figure_code_hash(), HOW


@pytest.mark.parametrize("document", QUOTED)
def test_quoted_tables_are_as_new_as_their_code(document: str) -> None:
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    stamps = re.findall(r"environment: commit .*?; figure code ([0-9a-f]{12})", text)
    assert stamps, f"{document} quotes no experiment table with its environment line; {HOW}"
    assert set(stamps) == {figure_code_hash()}, f"{document}: stale experiment figures; {HOW}"


def test_the_show_screenshot_is_as_new_as_the_page_it_shows() -> None:
    picture = Image.open(REPO_ROOT / "docs" / "img" / "show.png")
    assert picture.text.get("lossmask-show-code") == code_hash(SHOW_CODE), (
        "docs/img/show.png is older than the page code; regenerate with "
        "bash scripts/screenshot_show.sh"
    )
