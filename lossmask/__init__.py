"""lossmask: decide, provably, which tokens an SFT run trains on.

Importing this package is cheap on purpose: config commands (`validate`, `schema`, `migrate`) must
start fast, so torch, transformers and renderers are imported only by the commands that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lossmask")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
