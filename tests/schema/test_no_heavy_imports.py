"""Config commands must start fast: they never import torch, transformers or renderers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "renderers", "tokenizers", "datasets", "pyarrow")

PROBE = """
import sys
from tests.cli_runner import run_cli
result = run_cli(sys.argv[1:])
if result.exception is not None and not isinstance(result.exception, SystemExit):
    raise result.exception
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(",".join(heavy))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["validate", "{config}"],
        ["schema", "--version", "1"],
        ["migrate", "--check", "{config}"],
    ],
    ids=lambda argv: argv[0],
)
def test_config_commands_do_not_import_heavy_packages(argv: list[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloss_mask = "sampled"\n')
    args = [a.replace("{config}", str(config)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-c", PROBE.replace("{heavy!r}", repr(set(HEAVY))), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == ""
