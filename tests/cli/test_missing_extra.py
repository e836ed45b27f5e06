"""A config-only install (no `[train]` extra): the torch commands say what to install, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI in a fresh interpreter where the heavy modules cannot be imported, as on an install
# without the extra (`sys.modules[name] = None` makes `import name` raise ModuleNotFoundError).
PROBE = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from lossmask.cli import main
main(sys.argv[2:], prog_name="lossmask")
"""

EXTRA_MODULES = "torch,transformers,tokenizers,renderers,safetensors,matplotlib"


def _run(hidden: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, hidden, *argv], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "{config}", "--data", "{data}"],
        ["audit", "{config}", "--data", "{data}"],
        ["train", "{config}"],
    ],
    ids=lambda argv: argv[0],
)
def test_torch_commands_name_the_extra(argv: list[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloss_mask = "sampled"\n')
    data = tmp_path / "rows.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    args = [a.replace("{config}", str(config)).replace("{data}", str(data)) for a in argv]
    done = _run(EXTRA_MODULES, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(
        f"error: lossmask {argv[0]} needs the [train] extra: pip install 'lossmask[train]' "
        '(the module "'
    )
    missing = line.rsplit('"', 2)[1]
    assert missing.split(".")[0] in EXTRA_MODULES.split(",")


def test_config_commands_run_without_the_extra(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloss_mask = "sampled"\n')
    done = _run(EXTRA_MODULES, "validate", str(config))
    assert done.returncode == 0, done.stderr


def test_a_missing_lossmask_module_is_not_blamed_on_the_extra(tmp_path: Path) -> None:
    # A broken install of lossmask itself is a bug to report, so its traceback stays.
    done = _run("lossmask.reference_trainer.train_configs", "train", str(tmp_path / "c.toml"))
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr
    assert "needs the [train] extra" not in done.stderr
