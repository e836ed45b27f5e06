"""The one registry of lossmask's schema versions.

Everything that depends on which versions exist derives from `VERSIONS`: the pydantic model of each
version (`model_for`), the CLI choices (`CHOICES`), the `[tool.lossmask] schema-version` check, the
latest version, the `loss_mask` string modes a version accepts, and the JSON Schema files. A test
checks that the migration steps (`lossmask.migrate.steps`) join these versions one to the next.

Adding a version is one entry here, one model module (`vN.py`) and one step module
(`migrate/steps/vM_to_vN.py`). Importing this module builds no pydantic model (the fast path of
`lossmask validate` imports it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

MODES: tuple[str, ...] = ("sampled", "all")
"""Every `loss_mask` string mode any version accepts, in the order they are documented."""


@dataclass(frozen=True)
class SchemaVersion:
    number: int
    module: str
    """The module defining `SFTConfigV<number>` (and `DataConfigV<number>`)."""
    modes: tuple[str, ...]
    """The `loss_mask` strings this version accepts (none: only a role table)."""
    data_keys: tuple[str, ...]
    """Keys of an SFT data section that only some versions know, which this one does."""
    summary: str
    """One line for `--help` and the docs: what this version added."""


VERSIONS: tuple[SchemaVersion, ...] = (
    SchemaVersion(
        1,
        "lossmask.schema.v1",
        modes=(),
        data_keys=(),
        summary="legacy: loss_mask is a role table, assistant-only by default "
        "(prime-rl before PR #2988)",
    ),
    SchemaVersion(
        2,
        "lossmask.schema.v2",
        modes=MODES,
        data_keys=(),
        summary='loss_mask = "sampled" | "all" | role table, "sampled" by default',
    ),
    SchemaVersion(
        3,
        "lossmask.schema.v3",
        modes=MODES,
        data_keys=("content_roles",),
        summary="v2 + content_roles: train the body text of system/user/tool messages "
        "(what prime-rl main does for those roles set to true)",
    ),
)

NUMBERS: tuple[int, ...] = tuple(version.number for version in VERSIONS)
LATEST_VERSION: int = NUMBERS[-1]
CHOICES: tuple[str, ...] = tuple(str(number) for number in NUMBERS)
"""`--schema-version` choices."""

_BY_NUMBER = {version.number: version for version in VERSIONS}


def version_info(number: int) -> SchemaVersion:
    if number not in _BY_NUMBER:
        raise ValueError(f"unknown schema version {number}; known versions are {describe_known()}")
    return _BY_NUMBER[number]


def describe_known() -> str:
    """`1, 2 or 3`: the known versions, for messages."""
    words = [str(number) for number in NUMBERS]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def is_version(value: Any) -> bool:
    """Whether a parsed TOML value names a known version (`true` is not 1)."""
    return type(value) is int and value in _BY_NUMBER


def model_for(number: int) -> Any:
    """The pydantic model of a version (imported on first use: building it is not free)."""
    module = importlib.import_module(version_info(number).module)
    return getattr(module, f"SFTConfigV{number}")
