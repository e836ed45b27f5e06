"""lossmask: decide, provably, which tokens an SFT run trains on.

Importing this package is cheap on purpose: config commands (`validate`, `schema`, `migrate`) must
start fast, so torch, transformers and renderers are imported only by the commands that need them,
and even `__version__` is looked up (through `importlib.metadata`) only when asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "tokenize"]


def __getattr__(name: str) -> Any:
    if name == "tokenize":  # the documented, unshifted API (docs/integrations.md)
        from lossmask.integrations.tokenize import tokenize

        return tokenize
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("lossmask")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
