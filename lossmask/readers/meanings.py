"""What an SFT data section's mask means under each reading: one definition for everything.

`validate` words its statements from it, `migrate` proves a rewrite keeps it (old text under the
source reading == new text under lossmask's latest schema), and the mask engine applies it
(`lossmask.readers.rules`). Plain Python over parsed TOML: no pydantic, no renderers.

A meaning is the `loss_mask` in lossmask's terms (a mode, or the roles of a role table, ANDed with
the sampled signal on a renderer) plus the roles whose message bodies train (`content_roles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lossmask.readers.registry import Reading
from lossmask.schema.role_names import LEGACY_ROLE_DEFAULTS, ROLES

# prime-rl main's `content_sft_roles`: the roles set to true among these train their body.
MAIN_CONTENT_ROLES: tuple[str, ...] = ("user", "system", "tool")


@dataclass(frozen=True)
class MaskMeaning:
    loss_mask: str | tuple[str, ...]
    """A mode (`"sampled"`, `"all"`), or the roles a role table enables, in `ROLES` order."""
    content_roles: tuple[str, ...] = ()
    """Roles whose message bodies train, in `ROLES` order."""

    def describe(self) -> str:
        if isinstance(self.loss_mask, str):
            text = f'"{self.loss_mask}"'
        else:
            text = "roles(" + ", ".join(self.loss_mask) + ")"
        if self.content_roles:
            text += " + the body of " + ", ".join(self.content_roles) + " messages"
        return text


class UnreadableMask(ValueError):
    """The reading rejects this `loss_mask` (prime-rl main and a string, say): it has no meaning."""


def _ordered(roles: set[str]) -> tuple[str, ...]:
    return tuple(role for role in ROLES if role in roles)


def _role_table(value: Mapping[str, Any]) -> dict[str, bool]:
    table = {**LEGACY_ROLE_DEFAULTS, **value}
    if set(table) - set(ROLES) or not all(type(flag) is bool for flag in table.values()):
        raise UnreadableMask("not a table of role booleans")
    return table


def section_meaning(section: Mapping[str, Any] | None, reading: Reading) -> MaskMeaning:
    """The meaning of one SFT data section (parsed TOML; None or `{}` when it is absent)."""
    section = section or {}
    value = section.get("loss_mask")
    if reading.is_main:
        # SFTDataset._process: role_to_mask = None (the renderer's sampled mask) when assistant is
        # true, else a role filter; every other role set to true trains its body
        # (content_sft_roles), which takes precedence over the filter for those messages. So the
        # filter's roles that remain are the true ones outside the content roles: none.
        if value is not None and not isinstance(value, Mapping):
            raise UnreadableMask("prime-rl main reads loss_mask only as a table of role booleans")
        table = _role_table(value or {})
        bodies = _ordered({role for role in MAIN_CONTENT_ROLES if table[role]})
        return MaskMeaning("sampled" if table["assistant"] else (), bodies)
    if value is None:
        base: str | tuple[str, ...] = (
            _ordered({r for r, on in LEGACY_ROLE_DEFAULTS.items() if on})
            if reading.version == 1
            else "sampled"
        )
    elif isinstance(value, str):
        if reading.version == 1:
            raise UnreadableMask("schema version 1 reads loss_mask only as a table of roles")
        base = value
    elif isinstance(value, Mapping):
        base = _ordered({role for role, on in _role_table(value).items() if on})
    else:
        raise UnreadableMask("not a mode or a table of roles")
    content: tuple[str, ...] = ()
    if reading.version >= 3:
        listed = section.get("content_roles", [])
        content = _ordered(set(listed)) if isinstance(listed, list) else ()
    if not isinstance(base, str):
        # A content role's messages train their body whatever the table says about them: the
        # table's word on that role changes no token, so it is not part of the meaning.
        base = tuple(role for role in base if role not in content)
    return MaskMeaning(base, content)


def renderer_meaning(config: Mapping[str, Any], reading: Reading) -> str | None:
    """The renderer a config renders its SFT data with; None: the tokenizer's chat template.

    prime-rl main has no chat-template path: without `[renderer]` it picks the renderer registered
    for the model (`"auto"`). lossmask's schema reads a missing `[renderer]` as the chat template.
    """
    renderer = config.get("renderer")
    name = renderer.get("name") if isinstance(renderer, Mapping) else None
    if name is None and reading.is_main:
        return "auto"
    return name if isinstance(name, str) else None
