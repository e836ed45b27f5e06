"""The loss-mask setting itself: the one part of a config every lossmask component reads.

v1 only knows the role table; v2 adds the string modes. Both share `LossMaskRolesConfig`, so a role
table means the same thing under either version.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from lossmask.schema.role_names import LEGACY_ROLE_DEFAULTS, ROLES

__all__ = [
    "LEGACY_ROLE_DEFAULTS",
    "MODE_DESCRIPTIONS",
    "ROLES",
    "LossMaskMode",
    "LossMaskRolesConfig",
    "LossMaskSetting",
    "describe_loss_mask",
]

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


def describe_loss_mask(setting: Any) -> str:
    """A short human label for a loss-mask setting, used in reports and warnings: `"sampled"`,
    `roles(assistant)`, or for a mask rule (`lossmask.masks.engine.contract.MaskRule`) its
    `loss_mask`, content roles and reader: `"sampled" + content(tool) (prime-rl main)`."""
    if isinstance(setting, str):
        return f'"{setting}"'
    if isinstance(setting, LossMaskRolesConfig):
        return "roles(" + ", ".join(setting.enabled_roles()) + ")"
    text = describe_loss_mask(setting.loss_mask)
    content = [role for role in ROLES if role in setting.content_roles]
    if content:
        text += " + content(" + ", ".join(content) + ")"
    if setting.reader:
        text += f" ({setting.reader})"
    return text
