"""Schema version 2: `loss_mask = "sampled" | "all" | <role table>`, default `"sampled"`.

Version 3 (`v3.py`, the latest) adds `content_roles`; this one stays for configs written for it.

The default changed from v1's assistant-only table because a role filter masks out stop tokens that
a chat template attributes to the *next* message (GLM-4.5's `<|observation|>` after a tool call).
"""

from __future__ import annotations

from pydantic import Field

from lossmask.schema.roles import LossMaskSetting
from lossmask.schema.tables import DataConfigBase, OpenTable, SFTConfigBase

VERSION = 2


class DataConfigV2(DataConfigBase):
    """An SFT dataset: conversations and which of their tokens train."""

    loss_mask: LossMaskSetting = Field(
        default="sampled",
        description=(
            'Which tokens train. `"sampled"` (default): every token the model would sample at '
            'inference, stop tokens included. `"all"`: every token. A table of roles '
            "(`assistant = true`, ...): only those roles' tokens, as legacy configs did."
        ),
    )


class ValConfigV2(OpenTable):
    """Validation during training."""

    interval: int | None = Field(default=None, gt=0, description="Validate every this many steps.")
    data: DataConfigV2 | None = Field(default=None, description="The validation dataset.")


class SFTConfigV2(SFTConfigBase):
    """An SFT trainer config (schema version 2)."""

    data: DataConfigV2 = Field(default_factory=DataConfigV2, description="The training dataset.")
    val: ValConfigV2 | None = Field(default=None, description="Validation during training.")
