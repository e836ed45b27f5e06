"""The fast path of `validate` never disagrees with the full (pydantic) check.

Whenever `quick_check` answers, the full check must find the file valid with exactly the same
warnings; where it is not sure it answers None. Checked on every example and corpus config, and
on a value of each TOML type written at every key the schema names.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from lossmask.errors import ConfigError, Problem
from lossmask.schema.jsonschema import render_schema, schema_filename
from lossmask.schema.quick_check import PACKAGED_SCHEMAS, quick_check
from lossmask.schema.validation import check_config
from lossmask.schema.versions import NUMBERS
from tests.conftest import CORPUS, REPO_ROOT
from tests.schema.golden import INVALID, VALID

FILES = sorted(
    [
        *(e.path for e in [*VALID, *INVALID]),
        *CORPUS.rglob("*.toml"),
        *(REPO_ROOT / "examples").rglob("*.toml"),
    ]
)


def _full_check(path: Path, version: int) -> list[Problem] | None:
    """The full check's warnings, or None when it finds the file invalid or unreadable."""
    try:
        return check_config(path, version).warnings
    except ConfigError:
        return None


def _agree(path: Path, version: int) -> bool:
    """Asserts the two agree; returns whether the fast path answered."""
    fast = quick_check(path, version)
    if fast is None:
        return False
    assert fast == _full_check(path, version), path
    return True


@pytest.mark.parametrize("version", NUMBERS)
def test_packaged_schema_is_fresh(version: int) -> None:
    packaged = (PACKAGED_SCHEMAS / schema_filename(version)).read_text(encoding="utf-8")
    assert packaged == render_schema(version), "run `python -m lossmask.schema.jsonschema`"


@pytest.mark.parametrize("version", NUMBERS)
def test_examples_and_corpus(version: int) -> None:
    answered = [path for path in FILES if _agree(path, version)]
    # The fast path must actually carry the common case, or it saves nothing.
    assert REPO_ROOT / "examples/configs/v2/glm-tools-sampled.toml" in answered or version == 1
    assert len(answered) >= 10


def _schema_keys(node: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for combinator in ("anyOf", "oneOf"):
        for branch in node.get(combinator, []):
            yield from _schema_keys(branch, path)
    for branch in ("then", "else"):
        if branch in node:
            yield from _schema_keys(node[branch], path)
    for key, child in node.get("properties", {}).items():
        yield (*path, key)
        yield from _schema_keys(child, (*path, key))


VALUES: list[Any] = [
    0,
    -1,
    3,
    2.5,
    float("nan"),
    float("inf"),
    True,
    "sampled",
    "word",
    {},
    {"assistant": True},
    {"unknown": 1},
    [],
    [0.9, 0.999],
    [1, 2, 3],
    ["a"],
    datetime.date(2024, 1, 1),
]


def _config_with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return config


@pytest.mark.parametrize("version", NUMBERS)
def test_every_key_with_every_kind_of_value(version: int, tmp_path: Path) -> None:
    schema = json.loads(render_schema(version))
    keys = sorted(set(_schema_keys(schema)))
    assert ("data", "loss_mask", "assistant") in keys and ("optim", "betas") in keys
    answered = 0
    for key in keys:
        for index, value in enumerate(VALUES):
            target = tmp_path / f"{'.'.join(key)}-{index}.toml"
            target.write_text(tomlkit.dumps(_config_with(key, value)), encoding="utf-8")
            answered += _agree(target, version)
    assert answered > len(keys)  # a good share of the cases take the fast path


PROBE = """
import sys
from lossmask.cli import main
try:
    main(sys.argv[1:], prog_name="lossmask")
except SystemExit as exit:
    print(exit.code, "pydantic" in sys.modules)
"""


@pytest.mark.parametrize(
    ("reader", "text", "expected"),
    [
        ("lossmask", '[data]\nloss_mask = "sampled"\n', "0 False"),
        ("lossmask", '[data]\nloss_mask = "sampeld"\n', "1 True"),
        ("prime-rl-main", '[data]\nname = "org/sft"\n[data.loss_mask]\ntool = true\n', "0 False"),
        ("prime-rl-main", '[data]\nloss_mask = "sampled"\n', "1 True"),
    ],
    ids=[
        "valid-skips-pydantic",
        "invalid-uses-the-full-check",
        "main-valid-skips-pydantic",
        "main-refused-uses-the-full-check",
    ],
)
def test_a_valid_file_is_checked_without_building_models(
    tmp_path: Path, reader: str, text: str, expected: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "validate", "--reader", reader, str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == expected
