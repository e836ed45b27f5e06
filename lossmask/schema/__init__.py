"""Versioned config schema: v1 (legacy role table) and v2 (`"sampled" | "all" | roles`).

This package is imported by config-only commands; it must never import torch, transformers or
renderers.
"""

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

__all__ = [
    "LATEST_VERSION",
    "LEGACY_ROLE_DEFAULTS",
    "ROLES",
    "ConfigError",
    "ConfigReport",
    "DataConfigV1",
    "DataConfigV2",
    "LossMaskConfigWarning",
    "LossMaskMode",
    "LossMaskRolesConfig",
    "LossMaskSetting",
    "Problem",
    "SFTConfigV1",
    "SFTConfigV2",
    "ValConfigV1",
    "ValConfigV2",
    "check_config",
    "describe_loss_mask",
    "load_config",
    "model_for",
    "read_toml",
    "validate_data",
]
