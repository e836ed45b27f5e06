"""The loss-mask setting itself: the one part of a config every lossmask component reads.

v1 only knows the role table; v2 adds the string modes. Both share `LossMaskRolesConfig`, so a role
table means the same thing under either version.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
"""The roles of a message, and so the roles a loss-mask table may name, in the order they are
written out: the one list (the data reader and both backends check messages against it)."""

LEGACY_ROLE_DEFAULTS: dict[str, bool] = {
    "system": False,
    "user": False,
    "assistant": True,
    "tool": False,
}
"""What v1 trained when `loss_mask` was absent or a role was left out: assistant messages only."""

LossMaskMode = Literal["sampled", "all"]
MODE_DESCRIPTIONS: dict[str, str] = {
    "sampled": (
        "Train every token the model would have sampled at inference, whatever message it belongs "
        "to. On a renderer this is its per-token sampled signal, which includes turn-closing stop "
        "tokens that a chat template places in the next message (GLM-4.5's `<|observation|>`). "
        "Recommended, and the default."
    ),
    "all": (
        "Train every token of the rendered conversation, prompts included. Mostly for debugging."
    ),
}


class LossMaskRolesConfig(BaseModel):
    """Per-role loss mask: train the tokens of the roles set to true.

    On a renderer the role filter is ANDed with the renderer's sampled signal; on a chat template it
    selects whole messages. Roles left out keep the legacy defaults (assistant only).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    system: bool = Field(default=False, description="Train system-message tokens.")
    user: bool = Field(default=False, description="Train user-message tokens.")
    assistant: bool = Field(default=True, description="Train assistant-message tokens.")
    tool: bool = Field(
        default=False,
        description=(
            "Train tool-result tokens. A renderer never marks tool results as sampled, so on the "
            "renderer path this trains nothing."
        ),
    )

    def enabled_roles(self) -> tuple[str, ...]:
        return tuple(role for role in ROLES if getattr(self, role))


def _loss_mask_variant(value: Any) -> str:
    # A callable discriminator gives pydantic errors one clean branch to report: a table is judged
    # only as a role table, anything else only as a mode string.
    if isinstance(value, dict | LossMaskRolesConfig):
        return "roles"
    return "mode"


LossMaskSetting = Annotated[
    Annotated[LossMaskMode, Tag("mode")] | Annotated[LossMaskRolesConfig, Tag("roles")],
    Discriminator(_loss_mask_variant),
]
"""The v2 `loss_mask` value: `"sampled"`, `"all"` or a role table."""


def describe_loss_mask(setting: str | LossMaskRolesConfig) -> str:
    """A short human label for a loss-mask setting, used in reports and warnings."""
    if isinstance(setting, str):
        return f'"{setting}"'
    return "roles(" + ", ".join(setting.enabled_roles()) + ")"
