"""The checked-in JSON Schema: fresh, editor-friendly, and accepted by the real Taplo and Tombi."""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lossmask.schema.jsonschema import render_schema, schema_filename
from lossmask.schema.versions import NUMBERS
from tests.conftest import REPO_ROOT, executable
from tests.schema.golden import INVALID, VALID, Example

SCHEMAS = REPO_ROOT / "schemas"
# Rules a JSON Schema cannot express; the pydantic model checks them, editors cannot.
MODEL_ONLY_RULES = {"micro-batch-does-not-divide", "content-roles-without-renderer"}
SCHEMA_INVALID = [e for e in INVALID if e.path.stem not in MODEL_ONLY_RULES]
REGENERATE = "python -m lossmask.schema.jsonschema"


@pytest.mark.parametrize("version", NUMBERS)
def test_checked_in_schema_is_fresh(version: int) -> None:
    checked_in = (SCHEMAS / schema_filename(version)).read_text(encoding="utf-8")
    assert checked_in == render_schema(version), f"stale schema: run `{REGENERATE}`"


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, node in _walk(schema):
        for name, prop in node.get("properties", {}).items():
            yield f"{path}/properties/{name}", prop


@pytest.mark.parametrize("version", NUMBERS)
def test_every_key_has_hover_text_and_no_ref(version: int) -> None:
    schema = json.loads(render_schema(version))
    assert "$defs" not in schema
    assert not [p for p, node in _walk(schema) if "$ref" in node]
    undocumented = [path for path, prop in _properties(schema) if not prop.get("description")]
    assert undocumented == []
    assert not [p for p, node in _walk(schema) if node.get("type") == "null"]


@pytest.mark.parametrize("version", NUMBERS)
def test_enums_are_documented_value_by_value(version: int) -> None:
    schema = json.loads(render_schema(version))
    # The enums under `then` and `not` only check a value (see `jsonschema_editors.py`); the
    # documented ones are what editors read.
    checks = ("/then", "/not")
    enums = [node for path, node in _walk(schema) if "enum" in node and not path.endswith(checks)]
    assert enums
    for node in enums:
        assert len(node["enumDescriptions"]) == len(node["enum"])
        assert node["x-taplo"]["docs"]["enumValues"] == node["enumDescriptions"]


@pytest.mark.parametrize("version", NUMBERS)
def test_role_tables_forbid_unknown_keys(version: int) -> None:
    schema = json.loads(render_schema(version))
    role_tables = [
        node
        for _, node in _walk(schema)
        if set(node.get("properties", {})) == {"system", "user", "assistant", "tool"}
    ]
    assert role_tables
    assert all(node["additionalProperties"] is False for node in role_tables)


def _load(example: Example) -> dict[str, Any]:
    return tomllib.loads(example.path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.id)
def test_jsonschema_accepts_valid_examples(example: Example) -> None:
    jsonschema.validate(_load(example), json.loads(render_schema(example.version)))


@pytest.mark.parametrize(
    "example", [e for e in SCHEMA_INVALID if e.path.stem != "malformed-toml"], ids=lambda e: e.id
)
def test_jsonschema_rejects_invalid_examples(example: Example) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_load(example), json.loads(render_schema(example.version)))


def _first_error_line(example: Example) -> int:
    first = example.expected(".errors.txt")[0]
    return int(first.split(":")[1])


def _taplo(schema: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            executable("taplo"),
            "lint",
            "--no-auto-config",
            "--schema",
            schema.as_uri(),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def _tombi(schema: Path, example: Example, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Tombi reads its schema association from a `#:schema` directive at the top of the file.
    copy = tmp_path / example.path.name
    copy.write_text(f"#:schema {schema}\n" + example.path.read_text(encoding="utf-8"))
    return subprocess.run(
        [executable("tombi"), "lint", "--offline", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("version", NUMBERS)
def test_taplo_accepts_valid_examples(version: int) -> None:
    files = [e.path for e in VALID if e.version == version]
    done = _taplo(SCHEMAS / schema_filename(version), files)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("example", SCHEMA_INVALID, ids=lambda e: e.id)
def test_taplo_rejects_invalid_examples(example: Example) -> None:
    done = _taplo(SCHEMAS / schema_filename(example.version), [example.path])
    assert done.returncode == 1
    # Taplo points at the same line as lossmask's own message.
    assert f"{example.path}:{_first_error_line(example)}:" in done.stderr, done.stderr


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.id)
def test_tombi_accepts_valid_examples(example: Example, tmp_path: Path) -> None:
    done = _tombi(SCHEMAS / schema_filename(example.version), example, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("example", SCHEMA_INVALID, ids=lambda e: e.id)
def test_tombi_rejects_invalid_examples(example: Example, tmp_path: Path) -> None:
    done = _tombi(SCHEMAS / schema_filename(example.version), example, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    # The copy has one extra line (the directive) above lossmask's line.
    assert f"{example.path.name}:{_first_error_line(example) + 1}:" in output, output
