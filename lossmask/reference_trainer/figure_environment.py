"""Where a published figure came from: code, versions, device, load. Written beside every grid.

Figures at this size move with the environment (transformers 5.24 -> 5.25 moved the experiment's
table by whole turns), so a table or picture is only meaningful with the environment that made
it. `figure_code_hash` fingerprints the code that defines and draws the figures (the data
generator, the stop eval, the tool-call reader, the grid and its report); a committed picture or
table whose recorded hash differs from the code's is stale (`tests/trainer/test_figures.py`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

# The modules whose source decides what the experiment's figures say and how they are drawn.
FIGURE_CODE: tuple[str, ...] = (
    "lossmask/masks/assets/synthetic.py",
    "lossmask/reference_trainer/evaluate.py",
    "lossmask/reference_trainer/tool_calls.py",
    "lossmask/reference_trainer/stop_table.py",
    "lossmask/reference_trainer/grid.py",
    "lossmask/reference_trainer/grid_report.py",
)
# What docs/img/show.png shows: the `lossmask show --html` page and the script that shoots it.
SHOW_CODE: tuple[str, ...] = ("lossmask/masks/app/view.py", "scripts/screenshot_show.sh")
REPO_ROOT = Path(__file__).resolve().parents[2]


def code_hash(files: tuple[str, ...], root: Path = REPO_ROOT) -> str:
    """12 hex digits of SHA-256 over `files` (path and bytes of each, in order)."""
    digest = hashlib.sha256()
    for relative in files:
        digest.update(relative.encode() + b"\0" + (root / relative).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def figure_code_hash(root: Path = REPO_ROOT) -> str:
    """The hash of FIGURE_CODE: what the experiment's figures were made with."""
    return code_hash(FIGURE_CODE, root)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(root: Path) -> str:
    """The checkout's commit, `+changes` when the tree differs from it; "unknown" outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _device(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"{torch.cuda.get_device_name(index)} ({device})"
    return f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def load_average() -> str:
    try:
        return "/".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


@dataclass(frozen=True)
class FigureEnvironment:
    commit: str
    python: str
    torch: str
    transformers: str
    renderers: str
    device: str
    threads: str  # how cells ran: "1 torch thread per cell, 2 cells at once", ...
    load_before: str  # 1/5/15-minute load averages when the grid started
    load_after: str
    figure_code: str

    @classmethod
    def capture(cls, device: str, threads: str, load_before: str) -> FigureEnvironment:
        return cls(
            commit=_commit(REPO_ROOT),
            python=platform.python_version(),
            torch=_version("torch"),
            transformers=_version("transformers"),
            renderers=_version("renderers"),
            device=_device(device),
            threads=threads,
            load_before=load_before,
            load_after=load_average(),
            figure_code=figure_code_hash(),
        )

    def line(self) -> str:
        """One line, quoted under every published table (the staleness test reads its hash)."""
        return (
            f"environment: commit {self.commit}, Python {self.python}, torch {self.torch}, "
            f"transformers {self.transformers}, renderers {self.renderers}, {self.device}, "
            f"{self.threads}, load average {self.load_before} before and {self.load_after} "
            f"after; figure code {self.figure_code}"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
