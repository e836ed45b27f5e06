"""Hub ids resolve as transformers resolves them, offline: the tokenizer, its chat template and its
`generation_config.json` from the local Hugging Face cache (`HF_HUB_CACHE`). Without any serving
stop beyond EOS on a template that closes turns with other tokens, every command says so loudly.

The issue's repro: a cache entry holding the embedded GLM-4.5 tokenizer (the hub's template shape,
no generation tags) and its `generation_config.json`, then `lossmask audit
examples/configs/show/glm-legacy-roles.toml --data examples/data/weather-tools.jsonl --set
'data.loss_mask="sampled"' --set tokenizer.name=fakeorg/glm45`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lossmask.masks.app.setup import mask_backend
from lossmask.masks.assets.embedded import embedded_serving_stop_ids, embedded_tokenizer
from tests.cli_runner import run_cli
from tests.conftest import REPO_ROOT

CONFIG = str(REPO_ROOT / "examples" / "configs" / "show" / "glm-legacy-roles.toml")
DATA = str(REPO_ROOT / "examples" / "data" / "weather-tools.jsonl")
HUB_ID = "fakeorg/glm45"
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"
STOPS = '["<|endoftext|>", "<|user|>", "<|observation|>"]'


@pytest.fixture(autouse=True)
def _fresh_backends() -> Iterator[None]:
    """Backends are built once per process, by name; each test here changes what a name holds."""
    mask_backend.cache_clear()
    yield
    mask_backend.cache_clear()


def _tokenizer_dir(root: Path, generation_config: bool) -> Path:
    directory = root / "glm45"
    embedded_tokenizer("glm-4.5-notags").save_pretrained(directory)
    if generation_config:
        stops = embedded_serving_stop_ids("glm-4.5")
        (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": stops}))
    return directory


def _hub_cache(root: Path, files: Path) -> Path:
    """A Hugging Face hub cache holding `files` as the snapshot of `HUB_ID`'s main branch, laid out
    as `huggingface_hub` leaves it after a download: the repository has no `config.json` (a
    tokenizer-only repository), which the cache records under `.no_exist/`."""
    cache = root / "cache"
    repo = cache / ("models--" + HUB_ID.replace("/", "--"))
    shutil.copytree(files, repo / "snapshots" / SNAPSHOT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SNAPSHOT)
    (repo / ".no_exist" / SNAPSHOT).mkdir(parents=True)
    (repo / ".no_exist" / SNAPSHOT / "config.json").touch()
    return cache


def _audit(tokenizer: str, cache: Path, *extra: str) -> tuple[dict, str]:
    words = ["audit", CONFIG, "--data", DATA, "--reader", "lossmask", "--format", "json"]
    words += ["--set", 'data.loss_mask="sampled"', "--set", f'tokenizer.name="{tokenizer}"']
    result = run_cli([*words, *extra], env={"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)["reports"]
    return report, result.stderr


def test_a_hub_id_in_the_cache_gives_the_figures_of_the_same_files_as_a_directory(
    tmp_path: Path,
) -> None:
    directory = _tokenizer_dir(tmp_path, generation_config=True)
    cache = _hub_cache(tmp_path, directory)
    from_cache, warned = _audit(HUB_ID, cache)
    mask_backend.cache_clear()
    from_directory, _ = _audit(str(directory), cache)
    assert warned == ""
    assert from_cache["stop_rate"] == from_directory["stop_rate"]
    assert from_cache["trained_tokens_by_role"] == from_directory["trained_tokens_by_role"]
    # The serving stops came from the cached generation_config.json: every tool-calling turn
    # trains the <|observation|> that ends it, every final answer its stop.
    assert {kind: rate["rate"] for kind, rate in from_cache["stop_rate"].items()} == {
        "tool_call": 1.0,
        "final": 1.0,
    }


def test_no_generation_config_is_said_loudly_and_the_stops_can_be_named(tmp_path: Path) -> None:
    cache = _hub_cache(tmp_path, _tokenizer_dir(tmp_path, generation_config=False))
    report, warned = _audit(HUB_ID, cache)
    assert warned.startswith(
        f"{CONFIG}: tokenizer.stop_tokens: warning: no serving stop beyond EOS '<|endoftext|>': "
        f"no generation_config.json was found (looked for one for '{HUB_ID}', as a local "
        f"directory or in the Hugging Face cache {cache}), but the chat template closes an "
        "assistant turn with <|user|>;"
    )
    assert (
        f"Name the stops: [tokenizer] stop_tokens = [{STOPS.strip('[]')}]".replace('", "', '", "')
        in warned.replace("\n", " ")
        or "[tokenizer] stop_tokens = [" in warned
    )
    # EOS alone: the <|observation|> that ends a tool-calling turn is not trained as its stop.
    assert report["stop_rate"]["tool_call"]["rate"] == 0.0
    mask_backend.cache_clear()
    named, quiet = _audit(HUB_ID, cache, "--set", f"tokenizer.stop_tokens={STOPS}")
    assert quiet == ""
    assert named["stop_rate"]["tool_call"]["rate"] == 1.0


def test_train_refuses_until_the_stops_are_named(tmp_path: Path) -> None:
    cache = _hub_cache(tmp_path, _tokenizer_dir(tmp_path, generation_config=False))
    config = tmp_path / "train.toml"
    config.write_text(
        f'max_steps = 1\n\n[tokenizer]\nname = "{HUB_ID}"\n\n'
        f'[data]\nname = "{DATA}"\nloss_mask = "sampled"\n'
    )
    env = {"HF_HUB_CACHE": str(cache)}
    result = run_cli(
        ["train", "--reader", "lossmask", "--eval-examples", "0", str(config)], env=env
    )
    assert result.exit_code == 2
    assert "tokenizer.stop_tokens: no serving stop beyond EOS '<|endoftext|>'" in result.stderr
