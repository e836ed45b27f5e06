"""Embedded, config-only and checkpoint models resolve without tensors and build reproducibly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lossmask.reference_trainer.model import (
    EMBEDDED_MODEL,
    TINY_LLAMA,
    ModelResolveError,
    build_model,
    resolve_model,
)
from tests.conftest import REPO_ROOT


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pairs = zip(a.state_dict().items(), b.state_dict().items(), strict=True)
    return all(na == nb and torch.equal(ta, tb) for (na, ta), (nb, tb) in pairs)


def test_embedded_model_is_the_tiny_llama_sized_to_the_tokenizer() -> None:
    for name in (None, EMBEDDED_MODEL):
        source = resolve_model(name, vocab_size=836, max_positions=512)
        assert source.kind == "embedded"
        assert source.config.vocab_size == 836
        assert source.config.hidden_size == TINY_LLAMA["hidden_size"] == 128
        assert source.config.num_hidden_layers == 2


def test_seeded_init_is_reproducible_and_seed_dependent() -> None:
    source = resolve_model(None, vocab_size=64, max_positions=128)
    first, again, other = build_model(source, 0), build_model(source, 0), build_model(source, 1)
    assert _same_weights(first, again)
    assert not _same_weights(first, other)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "Qwen/Qwen3-0.6B",
            "'Qwen/Qwen3-0.6B' is not a local directory and not in the local Hugging Face cache; "
            "the reference trainer runs offline and never downloads models",
        ),
        ("./no/such/dir", "'./no/such/dir' is not a local directory"),
        ("embedded:gpt-9", "unknown embedded model 'embedded:gpt-9'"),
    ],
)
def test_unusable_names_are_rejected_before_any_tensor(name: str, message: str) -> None:
    with pytest.raises(ModelResolveError, match=message):
        resolve_model(name, vocab_size=64, max_positions=128)


def _config_dir(tmp_path: Path, vocab_size: int) -> Path:
    from transformers import LlamaConfig

    folder = tmp_path / "config-only"
    LlamaConfig(vocab_size=vocab_size, max_position_embeddings=256, **TINY_LLAMA).save_pretrained(
        folder
    )
    return folder


def test_config_only_directory_builds_a_seeded_model(tmp_path: Path) -> None:
    folder = _config_dir(tmp_path, vocab_size=80)
    source = resolve_model(str(folder), vocab_size=64, max_positions=128)
    assert (source.kind, source.config.vocab_size) == ("config", 80)
    assert _same_weights(build_model(source, 3), build_model(source, 3))


def test_model_smaller_than_the_tokenizer_is_rejected(tmp_path: Path) -> None:
    folder = _config_dir(tmp_path, vocab_size=32)
    with pytest.raises(ModelResolveError, match=r"vocab_size \(32\) is smaller than .* \(64\)"):
        resolve_model(str(folder), vocab_size=64, max_positions=128)


def test_saved_checkpoint_loads_back_through_the_same_path(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = build_model(resolve_model(None, vocab_size=64, max_positions=128), seed=5)
    model.save_pretrained(tmp_path / "ckpt", safe_serialization=True)
    assert (tmp_path / "ckpt" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["vocab_size"] == 64
    source = resolve_model(str(tmp_path / "ckpt"), vocab_size=64, max_positions=128)
    assert source.kind == "pretrained"
    assert _same_weights(model, build_model(source, seed=999))  # weights, not the seed, decide
    assert _same_weights(model, AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt"))


def test_four_layer_experiment_model_is_the_embedded_model_twice_as_deep() -> None:
    """`bench/experiment_grid.sh --arguments` trains examples/experiment/model-4-layers: it must
    differ from the embedded model (sized to the embedded GLM-4.5 vocabulary) in depth only, or the
    two budgets' tables would differ in more than the variables the docs name."""
    from lossmask.masks.assets.embedded import embedded_tokenizer

    folder = REPO_ROOT / "examples" / "experiment" / "model-4-layers"
    vocab_size = len(embedded_tokenizer("glm-4.5"))
    deeper = resolve_model(str(folder), vocab_size=vocab_size, max_positions=512)
    embedded = resolve_model(None, vocab_size=vocab_size, max_positions=512)
    assert (deeper.kind, deeper.dtype) == ("config", "float32")
    assert deeper.config.num_hidden_layers == 4
    metadata = {"_name_or_path", "architectures"}  # about the file, not the model's shape
    shapes = embedded.config.to_dict(), deeper.config.to_dict()
    differing = {
        key
        for key in shapes[0].keys() | shapes[1].keys()
        if key not in metadata and shapes[0].get(key) != shapes[1].get(key)
    }
    assert differing == {"num_hidden_layers"}
