"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# The real prime-rl configs live beside the repository (../shared) in development and in CI;
# LOSSMASK_CORPUS points elsewhere.
CORPUS = Path(
    os.environ.get("LOSSMASK_CORPUS", REPO_ROOT.parent / "shared" / "corpus" / "prime-rl")
)


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the prime-rl corpus is missing at {CORPUS}")
    return CORPUS
