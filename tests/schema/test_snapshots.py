"""Syrupy snapshots: the parsed form of every valid example, and each emitted schema."""

from __future__ import annotations

import json

import pytest
from syrupy.assertion import SnapshotAssertion

from lossmask.schema import check_config
from lossmask.schema.jsonschema import render_schema
from lossmask.schema.versions import NUMBERS
from tests.schema.golden import VALID, Example


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.id)
def test_parsed_config(example: Example, snapshot: SnapshotAssertion) -> None:
    config = check_config(example.path, example.version).config
    assert config.model_dump(mode="json") == snapshot


@pytest.mark.parametrize("version", NUMBERS)
def test_emitted_schema(version: int, snapshot: SnapshotAssertion) -> None:
    assert json.loads(render_schema(version)) == snapshot
