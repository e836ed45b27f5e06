"""Schema version 3 (current): v2, plus `content_roles` in an SFT data section.

prime-rl main (since PR #2988) reads `[data.loss_mask] tool = true` (or `user`, `system`) as "also
train the *body* of those messages": the text a renderer marks as message content, never the
template scaffolding around it. No v2 setting says that, so v3 adds one key for it; every v2
config means the same under v3 (an absent `content_roles` is empty).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lossmask.schema.roles import LossMaskSetting
from lossmask.schema.tables import DataConfigBase, OpenTable, SFTConfigBase

VERSION = 3

CONTENT_ROLES: tuple[str, ...] = ("system", "user", "tool")
"""The roles whose message bodies `content_roles` may train (the model never samples them)."""

ContentRole = Annotated[
    Literal["system", "user", "tool"],
    Field(
        json_schema_extra={
            "enumDescriptions": [
                "Train the text of system messages.",
                "Train the text of user messages.",
                "Train the text of tool results.",
            ]
        }
    ),
]


class DataConfigV3(DataConfigBase):
    """An SFT dataset: conversations and which of their tokens train."""

    loss_mask: LossMaskSetting = Field(
        default="sampled",
        description=(
            'Which tokens train. `"sampled"` (default): every token the model would sample at '
            'inference, stop tokens included. `"all"`: every token. A table of roles '
            "(`assistant = true`, ...): only those roles' tokens, as legacy configs did."
        ),
    )
    content_roles: list[ContentRole] = Field(
        default_factory=list,
        description=(
            "Roles whose message *body* trains as well: for a message of one of these roles, "
            "exactly the tokens the renderer marks as its content train (never the role header, "
            "closers or wraps around it), whatever `loss_mask` says about that message; every "
            "other message follows `loss_mask`. This is what prime-rl main does for "
            '`[data.loss_mask] tool = true`. Needs a `[renderer]`. Example: `["tool"]`.'
        ),
    )


class ValConfigV3(OpenTable):
    """Validation during training."""

    interval: int | None = Field(default=None, gt=0, description="Validate every this many steps.")
    data: DataConfigV3 | None = Field(default=None, description="The validation dataset.")


class SFTConfigV3(SFTConfigBase):
    """An SFT trainer config (schema version 3)."""

    data: DataConfigV3 = Field(default_factory=DataConfigV3, description="The training dataset.")
    val: ValConfigV3 | None = Field(default=None, description="Validation during training.")
