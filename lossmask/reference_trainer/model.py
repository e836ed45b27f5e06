"""The model: an embedded tiny Llama-style config, a local config-only directory, or a checkpoint.

A checkpoint is a local directory or a hub id already in the local Hugging Face cache; the trainer
runs with `HF_HUB_OFFLINE=1`, so a hub id that is not cached is an error, never a download or a
hang. All three go through `transformers.AutoModelForCausalLM`, so the embedded default exercises
the same code a real local checkpoint does. Resolving (`resolve_model`) reads configs only and
allocates no tensor, so an incompatible model is rejected before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

EMBEDDED_MODEL = "embedded:tiny-llama"
"""`[model] name` of the built-in model; also what an absent `name` means."""

# 2 layers, 128 wide: the smallest Llama that still learns the synthetic tool-calling format in a
# couple of CPU minutes (the experiment in docs/training.md trains it for 150 steps).
TINY_LLAMA: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "tie_word_embeddings": False,
    "rope_theta": 10000.0,
}

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


class ModelResolveError(ValueError):
    """`[model] name` does not name a model the reference trainer can load offline."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from, resolved without allocating any tensor."""

    kind: Literal["embedded", "config", "pretrained"]
    config: Any  # transformers.PretrainedConfig
    path: Path | None = None
    # The dtype the model directory declares. Training runs in fp32 weights (bf16 autocast on
    # CUDA); checkpoints are saved back in this dtype, so a bf16 model stays a bf16 model. Read
    # when resolving: building the model in fp32 rewrites the config's own `dtype`.
    dtype: str = "float32"

    def describe(self) -> str:
        if self.kind == "embedded":
            return f"{EMBEDDED_MODEL} (built from a config, seeded random init)"
        if self.kind == "config":
            return f"{self.path} (config.json only: seeded random init)"
        return f"{self.path} (pretrained weights)"


def is_embedded(name: str | None) -> bool:
    return name is None or name == EMBEDDED_MODEL


def resolve_model(name: str | None, vocab_size: int, max_positions: int) -> ModelSource:
    """Read the model's config; check it against the tokenizer's vocabulary. No tensors."""
    from transformers import AutoConfig, LlamaConfig

    if name is None or name == EMBEDDED_MODEL:
        config = LlamaConfig(
            vocab_size=vocab_size, max_position_embeddings=max(max_positions, 2048), **TINY_LLAMA
        )
        return ModelSource("embedded", config)
    if name.startswith("embedded:"):
        raise ModelResolveError(
            f"unknown embedded model {name!r}",
            suggestion=f'the embedded model is "{EMBEDDED_MODEL}"',
        )
    path = locate_model(name)
    if not (path / "config.json").is_file():
        raise ModelResolveError(f"{path} has no config.json")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:  # unreadable JSON, an unknown model_type, ...
        raise ModelResolveError(f"could not read {path / 'config.json'}: {error}") from None
    model_vocab = getattr(config, "vocab_size", None)
    if model_vocab is not None and model_vocab < vocab_size:
        raise ModelResolveError(
            f"the model's vocab_size ({model_vocab}) is smaller than the tokenizer's "
            f"({vocab_size})",
            suggestion="use the tokenizer the model was trained with ([tokenizer] name)",
        )
    if has_weights(path):
        return ModelSource("pretrained", config, path, declared_dtype(config))
    others = sorted(item.name for item in path.iterdir() if item.name != "config.json")
    if others:
        shown = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
        raise ModelResolveError(
            f"{name!r} has no weights ({' or '.join(_WEIGHT_FILES[:3])}) but holds {shown}: "
            "it looks like a checkpoint whose weights are missing",
            suggestion="copy the weights into it; for a seeded random init use a directory that "
            "holds only config.json",
        )
    return ModelSource("config", config, path, declared_dtype(config))


def declared_dtype(config: Any) -> str:
    """config.json's `dtype` (formerly `torch_dtype`); "float32" when it declares none."""
    # Older transformers keep `torch_dtype` as a plain attribute; newer ones make it a property
    # that warns on every read, so it is looked up only where it is stored.
    declared = getattr(config, "dtype", None) or vars(config).get("torch_dtype")
    name = str(declared).removeprefix("torch.") if declared is not None else "float32"
    return name if name in ("float32", "bfloat16", "float16") else "float32"


def has_weights(path: Path) -> bool:
    return any((path / weight).is_file() for weight in _WEIGHT_FILES)


def locate_model(name: str) -> Path:
    """A local directory, or the cached snapshot of a hub id (never downloaded)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    looks_like_hub_id = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    if not looks_like_hub_id or path.exists():
        raise ModelResolveError(
            f"{name!r} is not a local directory",
            suggestion="point [model] name at a local checkpoint or config directory, a hub id in "
            "the local Hugging Face cache, or remove it to use the embedded tiny model",
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        raise ModelResolveError(
            f"{name!r} is not a local directory and not in the local Hugging Face cache; the "
            "reference trainer runs offline and never downloads models",
            suggestion=f"download it first (`hf download {name}`) or point [model] name at a "
            "local directory",
        ) from None


def build_model(source: ModelSource, seed: int) -> Any:
    """Allocate the model in fp32 on CPU (the loop moves it). Random init is seeded."""
    import torch
    from transformers import AutoModelForCausalLM

    if source.kind == "pretrained":
        model = AutoModelForCausalLM.from_pretrained(str(source.path), dtype=torch.float32)
    else:
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(source.config, dtype=torch.float32)
    if model.get_decoder() is None or model.get_output_embeddings() is None:
        raise ModelResolveError(
            f"{type(model).__name__} does not expose a decoder and an LM head separately, which "
            "the trained-positions loss needs"
        )
    return model


def count_parameters(model: Any) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
