"""Shared fixtures: the embedded backends are built once per test session."""

from __future__ import annotations

import pytest

from lossmask.masks import MaskBackend, load_backend


@pytest.fixture(scope="session")
def glm_renderer() -> MaskBackend:
    return load_backend(renderer="glm-4.5")


@pytest.fixture(scope="session")
def glm_template() -> MaskBackend:
    return load_backend()


@pytest.fixture(scope="session")
def qwen_renderer() -> MaskBackend:
    return load_backend(tokenizer="embedded:qwen3", renderer="qwen3")


@pytest.fixture(scope="session")
def qwen_template() -> MaskBackend:
    return load_backend(tokenizer="embedded:qwen3")
