"""The real prime-rl configs: every SFT config loads under v1 with no warning, every file parses."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lossmask.schema import check_config
from tests.conftest import CORPUS


def _manifest() -> list[tuple[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        raise RuntimeError(f"the prime-rl corpus is missing at {CORPUS}; set LOSSMASK_CORPUS")
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return [(row["dest"], row["kind"]) for row in csv.DictReader(handle, delimiter="\t")]


SFT_FILES = [dest for dest, kind in _manifest() if kind == "sft"]
ALL_FILES = [dest for dest, _ in _manifest()]


@pytest.mark.parametrize("relative", SFT_FILES)
def test_sft_config_loads_under_v1_without_warnings(relative: str) -> None:
    report = check_config(CORPUS / relative, version=1)
    assert report.warnings == []
    assert report.config.data.loss_mask.enabled_roles() == ("assistant",)


@pytest.mark.parametrize("relative", SFT_FILES)
def test_sft_config_loads_under_v2(relative: str) -> None:
    report = check_config(CORPUS / relative, version=2)
    raw_has_sft_data = relative not in {"configs/ci/slim_sft.toml", "configs/debug/fake/sft.toml"}
    explicit = relative == "examples/vlm_sft_moe/sft.toml"
    changed_meaning = [w for w in report.warnings if w.message.startswith("no loss_mask")]
    # Exactly the files whose meaning v2 changes are warned about, and nothing else is.
    assert len(changed_meaning) == (1 if raw_has_sft_data and not explicit else 0)
    assert report.warnings == changed_meaning


def test_explicit_table_keeps_its_meaning_under_v2() -> None:
    config = check_config(CORPUS / "examples/vlm_sft_moe/sft.toml", version=2).config
    assert config.data.loss_mask.enabled_roles() == ("assistant",)


@pytest.mark.parametrize("relative", ALL_FILES)
def test_every_corpus_file_parses_under_both_versions(relative: str) -> None:
    for version in (1, 2):
        check_config(Path(CORPUS / relative), version=version)
