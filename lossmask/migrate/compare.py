"""Compare two parsed TOML configs key by key, for the equivalence checks of every migration."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from lossmask.toml_text import TablePath as KeyPath

# Values `tomllib` returns that are compared with `==` (after their types): the hot path of the
# comparison, taken before the slower `Mapping` and `list` checks.
_SCALARS = frozenset({str, int, float, bool, datetime, date, time})
_NOTHING_SKIPPED: tuple[frozenset[KeyPath], frozenset[KeyPath]] = (frozenset(), frozenset())


def first_difference(
    old: Any,
    new: Any,
    path: tuple[str | int, ...] = (),
    skip: tuple[frozenset[KeyPath], frozenset[KeyPath]] = _NOTHING_SKIPPED,
    skipped_key: str = "loss_mask",
) -> tuple[str | int, ...] | None:
    """The key path of the first value that differs (NaN equals NaN; 1, 1.0 and true differ).

    `skip` holds, for old and for new, the tables whose `skipped_key` is left out of the
    comparison (as if deleted), so the two configs need not be copied to drop it.
    """
    kind = type(old)
    if kind is type(new) and kind in _SCALARS:
        if old == new or (kind is float and math.isnan(old) and math.isnan(new)):
            return None
        return path
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        old_skips = skipped_key in old and path in skip[0]
        new_skips = skipped_key in new and path in skip[1]
        for key, value in old.items():
            if old_skips and key == skipped_key:
                continue
            if key not in new or (new_skips and key == skipped_key):
                return (*path, key)
            found = first_difference(value, new[key], (*path, key), skip, skipped_key)
            if found is not None:
                return found
        for key in new:
            if (key not in old or (old_skips and key == skipped_key)) and not (
                new_skips and key == skipped_key
            ):
                return (*path, key)
        return None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return path
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found = first_difference(a, b, (*path, index), skip, skipped_key)
            if found is not None:
                return found
        return None
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return None
    if type(old) is not type(new) or old != new:
        return path
    return None
