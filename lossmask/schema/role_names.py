"""The roles a loss-mask table names and v1's defaults, as plain data.

Kept apart from `roles.py` (which builds pydantic models on import) so that the fast path of
`lossmask validate` and `lossmask.readers` can read them without building a model.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
"""The roles a loss-mask table may name, in the order they are written out."""

LEGACY_ROLE_DEFAULTS: dict[str, bool] = {
    "system": False,
    "user": False,
    "assistant": True,
    "tool": False,
}
"""What v1 trained when `loss_mask` was absent or a role was left out: assistant messages only."""
