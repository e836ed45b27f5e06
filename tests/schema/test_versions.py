"""The one registry of schema versions (`lossmask.schema.versions`) is what everything derives from,
and it matches the migration steps."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from lossmask.cli.options import SCHEMA_VERSIONS
from lossmask.config_files.selection import load_project_settings
from lossmask.errors import ConfigError
from lossmask.migrate.steps import LATEST_VERSION as LATEST_STEP_VERSION
from lossmask.migrate.steps import SOURCE_VERSIONS, STEPS
from lossmask.schema.jsonschema import SCHEMA_DIR, schema_filename
from lossmask.schema.quick_check import PACKAGED_SCHEMAS
from lossmask.schema.roles import MODE_DESCRIPTIONS
from lossmask.schema.validation import MODELS, validate_data
from lossmask.schema.versions import (
    CHOICES,
    LATEST_VERSION,
    MODES,
    NUMBERS,
    VERSIONS,
    model_for,
    version_info,
)
from tests.cli_runner import run_cli
from tests.conftest import REPO_ROOT


def test_the_migration_steps_join_the_versions_one_to_the_next() -> None:
    assert [(s.from_version, s.to_version) for s in STEPS] == list(itertools.pairwise(NUMBERS))
    assert LATEST_STEP_VERSION == LATEST_VERSION == NUMBERS[-1]
    assert NUMBERS[:-1] == SOURCE_VERSIONS


def test_models_choices_and_modes_come_from_the_registry() -> None:
    assert list(MODELS) == list(NUMBERS)
    for number in NUMBERS:
        assert model_for(number).__name__ == f"SFTConfigV{number}"
        assert MODELS[number] is model_for(number)
    assert SCHEMA_VERSIONS == CHOICES == tuple(str(n) for n in NUMBERS)
    assert tuple(MODE_DESCRIPTIONS) == MODES


@pytest.mark.parametrize("number", NUMBERS)
def test_each_version_accepts_its_modes_and_keys_and_no_others(number: int) -> None:
    info = version_info(number)
    for mode in MODES:
        data = {"renderer": {"name": "glm-4.5"}, "data": {"loss_mask": mode}}
        if mode in info.modes:
            validate_data(data, version=number)
        else:
            with pytest.raises(ConfigError):
                validate_data(data, version=number)
    data_fields = set(model_for(number).model_fields["data"].annotation.model_fields)
    for version in VERSIONS:
        for key in version.data_keys:
            assert (key in data_fields) == (key in info.data_keys or version.number <= number)


@pytest.mark.parametrize("number", NUMBERS)
def test_every_version_has_its_json_schema_in_both_places(number: int) -> None:
    for directory in (REPO_ROOT / SCHEMA_DIR, PACKAGED_SCHEMAS):
        assert (directory / schema_filename(number)).is_file()


def test_tool_lossmask_schema_version_accepts_the_known_versions_only(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    for number in NUMBERS:
        pyproject.write_text(f"[tool.lossmask]\nschema-version = {number}\n")
        assert load_project_settings(pyproject).schema_version == number
    pyproject.write_text(f"[tool.lossmask]\nschema-version = {LATEST_VERSION + 1}\n")
    with pytest.raises(ConfigError) as caught:
        load_project_settings(pyproject)
    assert caught.value.problems[0].message == (
        f"must be {', '.join(CHOICES[:-1])} or {CHOICES[-1]}, not {LATEST_VERSION + 1}"
    )


def test_every_command_offers_the_registered_versions() -> None:
    for command, choices in (("validate", CHOICES), ("schema", CHOICES)):
        help_text = run_cli([command, "--help"]).stdout.replace("\n", " ")
        assert "[" + "|".join(choices) + "]" in help_text.replace(" ", ""), command
    migrate_help = run_cli(["migrate", "--help"]).stdout.replace(" ", "").replace("\n", "")
    assert "[" + "|".join(str(n) for n in SOURCE_VERSIONS) + "]" in migrate_help
