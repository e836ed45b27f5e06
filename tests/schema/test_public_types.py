"""`load_config` is typed per schema version, so callers get the model's attributes checked."""

from __future__ import annotations

import typing
from pathlib import Path

from lossmask.schema import SFTConfigV1, SFTConfigV2, SFTConfigV3, load_config


def test_load_config_has_one_overload_per_version() -> None:
    returns = {
        str(typing.get_type_hints(overload)["version"]): typing.get_type_hints(overload)["return"]
        for overload in typing.get_overloads(load_config)
    }
    assert returns == {
        "typing.Literal[1]": SFTConfigV1,
        "typing.Literal[2]": SFTConfigV2,
        "typing.Literal[3]": SFTConfigV3,
        "<class 'int'>": SFTConfigV1 | SFTConfigV2 | SFTConfigV3,
    }


def test_load_config_returns_the_model_of_the_version(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[data.loss_mask]\nassistant = true\n")
    assert type(load_config(config, 1)) is SFTConfigV1
    assert type(load_config(config, 2)) is SFTConfigV2
    assert type(load_config(config)) is SFTConfigV3
