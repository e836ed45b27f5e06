"""Versioned config schema: v1 (legacy role table), v2 (`"sampled" | "all" | roles`) and v3 (v2 +
`content_roles`); `lossmask.schema.versions` is the registry of versions.

This package is imported by config-only commands; it must never import torch, transformers or
renderers. Its names are loaded on first use (PEP 562), so importing one light submodule (the
fast path of `lossmask validate`) does not build the pydantic models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lossmask.errors import ConfigError, Problem
    from lossmask.schema.roles import (
        LEGACY_ROLE_DEFAULTS,
        ROLES,
        LossMaskMode,
        LossMaskRolesConfig,
        LossMaskSetting,
        describe_loss_mask,
    )
    from lossmask.schema.v1 import DataConfigV1, SFTConfigV1, ValConfigV1
    from lossmask.schema.v2 import DataConfigV2, SFTConfigV2, ValConfigV2
    from lossmask.schema.v3 import DataConfigV3, SFTConfigV3, ValConfigV3
    from lossmask.schema.validation import (
        LATEST_VERSION,
        ConfigReport,
        LossMaskConfigWarning,
        check_config,
        load_config,
        model_for,
        read_toml,
        validate_data,
    )

_HOMES = {
    "lossmask.errors": ("ConfigError", "Problem"),
    "lossmask.schema.roles": (
        "LEGACY_ROLE_DEFAULTS",
        "ROLES",
        "LossMaskMode",
        "LossMaskRolesConfig",
        "LossMaskSetting",
        "describe_loss_mask",
    ),
    "lossmask.schema.v1": ("DataConfigV1", "SFTConfigV1", "ValConfigV1"),
    "lossmask.schema.v2": ("DataConfigV2", "SFTConfigV2", "ValConfigV2"),
    "lossmask.schema.v3": ("DataConfigV3", "SFTConfigV3", "ValConfigV3"),
    "lossmask.schema.validation": (
        "LATEST_VERSION",
        "ConfigReport",
        "LossMaskConfigWarning",
        "check_config",
        "load_config",
        "model_for",
        "read_toml",
        "validate_data",
    ),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "LATEST_VERSION",
    "LEGACY_ROLE_DEFAULTS",
    "ROLES",
    "ConfigError",
    "ConfigReport",
    "DataConfigV1",
    "DataConfigV2",
    "DataConfigV3",
    "LossMaskConfigWarning",
    "LossMaskMode",
    "LossMaskRolesConfig",
    "LossMaskSetting",
    "Problem",
    "SFTConfigV1",
    "SFTConfigV2",
    "SFTConfigV3",
    "ValConfigV1",
    "ValConfigV2",
    "ValConfigV3",
    "check_config",
    "describe_loss_mask",
    "load_config",
    "model_for",
    "read_toml",
    "validate_data",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
