"""A config-only install (no `[train]` extra): the torch commands say what to install, exit 2.

The install command matches how lossmask was installed (`install_command`, from the
distribution's PEP 610 `direct_url.json`): checked on hand-written distribution metadata of each
kind, and on this environment's own install.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import PathDistribution, distributions
from pathlib import Path
from typing import Any

import pytest

from lossmask.cli import install_command
from tests.conftest import REPO_ROOT

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
        ["experiment", "{config}"],
        ["export", "{config}", "--data", "{data}", "--format", "trl", "-o", "{data}.parquet"],
        ["diff", "{config}", "{config}", "--data", "{data}"],
        ["audit", "--tokenized", "{data}", "--tokenizer", "embedded:glm-4.5"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_torch_commands_name_the_extra(argv: list[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    # A config the reference trainer accepts, so `train` and `experiment` get as far as torch.
    config.write_text('max_steps = 3\n\n[model]\nname = "m"\n\n[data]\nloss_mask = "sampled"\n')
    data = tmp_path / "rows.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    args = [a.replace("{config}", str(config)).replace("{data}", str(data)) for a in argv]
    done = _run(EXTRA_MODULES, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    # The subprocess runs in this directory, with this environment's install of lossmask.
    assert line.startswith(
        f"error: lossmask {argv[0]} needs the [train] extra: {install_command('train')} "
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


def _distribution(tmp_path: Path, direct_url: dict[str, Any] | None, installer: str = "pip") -> Any:
    info = tmp_path / "lossmask-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lossmask\nVersion: 0.1\n")
    (info / "INSTALLER").write_text(installer + "\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return PathDistribution(info)


CHECKOUT = "/home/me/lossmask"
INSTALLS = {
    "index": (None, "pip", "pip install 'lossmask[train]'"),
    "index-uv": (None, "uv", "uv pip install 'lossmask[train]'"),
    "checkout": (
        {"url": f"file://{CHECKOUT}", "dir_info": {}},
        "pip",
        "pip install '.[train]'",
    ),
    "editable-checkout": (
        {"url": f"file://{CHECKOUT}", "dir_info": {"editable": True}},
        "pip",
        "pip install -e '.[train]'",
    ),
    "git": (
        {
            "url": "https://github.com/me/lossmask",
            "vcs_info": {"vcs": "git", "commit_id": "7537ad4", "requested_revision": "main"},
        },
        "pip",
        "pip install 'lossmask[train] @ git+https://github.com/me/lossmask@7537ad4'",
    ),
    "wheel": (
        {"url": "file:///tmp/lossmask-0.1-py3-none-any.whl", "archive_info": {}},
        "pip",
        "pip install 'lossmask[train] @ file:///tmp/lossmask-0.1-py3-none-any.whl'",
    ),
}


@pytest.mark.parametrize("kind", INSTALLS)
def test_install_command_matches_how_lossmask_was_installed(tmp_path: Path, kind: str) -> None:
    direct_url, installer, expected = INSTALLS[kind]
    found = _distribution(tmp_path, direct_url, installer)
    assert install_command("train", found, cwd=Path(CHECKOUT)) == expected


def test_a_checkout_is_named_by_its_path_from_elsewhere(tmp_path: Path) -> None:
    found = _distribution(tmp_path, {"url": f"file://{CHECKOUT}", "dir_info": {"editable": True}})
    assert install_command("train", found, cwd=tmp_path) == f"pip install -e '{CHECKOUT}[train]'"


def test_this_checkouts_own_install(tmp_path: Path) -> None:
    # scripts/bootstrap.sh installs this checkout editable, as CONTRIBUTING.md says.
    records = [d.read_text("direct_url.json") for d in distributions(name="lossmask")]
    recorded = json.loads(next((r for r in records if r), "{}"))
    if recorded.get("url") != REPO_ROOT.as_uri():
        pytest.skip(f"lossmask is not installed from this checkout here ({recorded or 'an index'})")
    editable = "-e " if recorded["dir_info"].get("editable") else ""
    assert install_command("train", cwd=REPO_ROOT) == f"pip install {editable}'.[train]'"
    assert install_command("train", cwd=tmp_path) == f"pip install {editable}'{REPO_ROOT}[train]'"
