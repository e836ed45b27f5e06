"""Print a pip constraints file pinning every dependency of pyproject.toml to its lower bound.

    python scripts/oldest_constraints.py > oldest.txt   # what scripts/test-oldest.sh installs

Every requirement of `[project] dependencies` and of the `train` and `dev` extras gets
`name==<its lowest allowed version>` (`>=X` gives X, `==X` gives X). Read from pyproject.toml at
run time, so the oldest-deps job can never test stale bounds. Exceptions, each printed as a
comment: torch, whose only wheel here is the 2.13.0 on local disk (`pip install torch==2.13.0`);
an older torch cannot be installed without the network, so the job keeps 2.13.0. Dependencies
of dependencies are not pinned: pip picks what the pinned versions allow.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
EXTRAS = ("train", "dev")
# Kept at the version installed from local disk; see the module docstring.
NOT_PINNED = {"torch": "torch stays at the 2.13.0 installed from local disk (scripts/bootstrap.sh)"}

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_LOWEST = re.compile(r"(?:>=|==|~=)\s*([0-9][^,;\s]*)")


def lower_bounds(pyproject: Path = PYPROJECT) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    lines = []
    for requirement in requirements:
        name_match = _NAME.match(requirement)
        if name_match is None:
            raise SystemExit(f"cannot read the requirement {requirement!r}")
        name = name_match.group(1).lower()
        if name in NOT_PINNED:
            lines.append(f"# {NOT_PINNED[name]}")
            continue
        lowest = _LOWEST.search(requirement)
        if lowest is None:
            raise SystemExit(f"{requirement!r} has no lower bound; give it one in pyproject.toml")
        lines.append(f"{name}=={lowest.group(1)}")
    return lines


if __name__ == "__main__":
    sys.stdout.write("\n".join(lower_bounds()) + "\n")
