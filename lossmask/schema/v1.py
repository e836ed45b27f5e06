"""Schema version 1 (legacy, frozen): `loss_mask` is a role table, assistant-only by default.

Do not change what this file accepts or means: it defines what every legacy config trained, and
`lossmask migrate` relies on it to prove a rewrite kept that meaning.
"""

from __future__ import annotations

from pydantic import Field

from lossmask.schema.roles import LossMaskRolesConfig
from lossmask.schema.tables import DataConfigBase, OpenTable, SFTConfigBase

VERSION = 1


class DataConfigV1(DataConfigBase):
    """An SFT dataset (schema v1): conversations masked by a per-role table."""

    loss_mask: LossMaskRolesConfig = Field(
        default_factory=LossMaskRolesConfig,
        description=(
            "Which roles' tokens train. Roles left out keep the defaults: assistant only. "
            "A config without `loss_mask` trains assistant messages only."
        ),
    )


class ValConfigV1(OpenTable):
    """Validation during training."""

    interval: int | None = Field(default=None, gt=0, description="Validate every this many steps.")
    data: DataConfigV1 | None = Field(default=None, description="The validation dataset.")


class SFTConfigV1(SFTConfigBase):
    """An SFT trainer config, legacy schema (version 1)."""

    data: DataConfigV1 = Field(default_factory=DataConfigV1, description="The training dataset.")
    val: ValConfigV1 | None = Field(default=None, description="Validation during training.")
