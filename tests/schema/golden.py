"""The golden example folders: `examples/v{N}/valid/*.toml` and `examples/v{N}/invalid/*.toml`.

Each invalid `X.toml` has `X.errors.txt` with the exact lines `lossmask validate` prints; a valid
one may have `X.warnings.txt` with the exact warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lossmask.schema.versions import NUMBERS

EXAMPLES = Path(__file__).parent / "examples"


@dataclass(frozen=True)
class Example:
    version: int
    path: Path

    @property
    def id(self) -> str:
        return f"v{self.version}/{self.path.parent.name}/{self.path.stem}"

    def expected(self, suffix: str) -> list[str]:
        expected_file = self.path.with_suffix(suffix)
        if not expected_file.exists():
            return []
        return expected_file.read_text(encoding="utf-8").splitlines()


def examples(kind: str) -> list[Example]:
    found = []
    for version in NUMBERS:
        for path in sorted((EXAMPLES / f"v{version}" / kind).glob("*.toml")):
            found.append(Example(version, path))
    return found


VALID = examples("valid")
INVALID = examples("invalid")
