"""Choosing a backend: a `renderers` renderer, or a tokenizer's chat template.

`load_backend(tokenizer=None, renderer=None)`:
- `tokenizer`: None or `"embedded"` -> the embedded tiny tokenizer of the renderer's family (GLM-4.5
  when there is no renderer); `"embedded:glm-4.5"`, `"embedded:glm-4.5-notags"` (the GLM-4.5
  template without `{% generation %}` blocks, like the hub's) or `"embedded:qwen3"`; anything else
  -> a local directory (or a hub id, which needs network and says so when it fails);
- `renderer`: None -> the chat-template path; `"glm-4.5"`, `"qwen3"`, ... -> that renderer;
  `"auto"` -> renderers' own choice from the tokenizer's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lossmask.masks.engine.contract import TokenDescription
from lossmask.masks.engine.sample import MaskError

EMBEDDED_PREFIX = "embedded"


@runtime_checkable
class MaskBackend(Protocol):
    """What the trainer, `show` and `audit` need from either path."""

    name: str
    tokenizer: Any

    def stop_token_ids(self) -> list[int]: ...

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]: ...

    def describe(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> TokenDescription: ...


def _embedded_family(tokenizer: Any, renderer: str | None) -> str | None:
    """The embedded family a tokenizer setting names, or None for a real tokenizer."""
    if not isinstance(tokenizer, str | None):  # a tokenizer object: its name says
        name = getattr(tokenizer, "name_or_path", "")
        return name.split(":", 1)[1] if name.startswith(EMBEDDED_PREFIX + ":") else None
    if tokenizer is None or tokenizer == EMBEDDED_PREFIX:
        return "qwen3" if renderer is not None and renderer.startswith("qwen") else "glm-4.5"
    if tokenizer.startswith(EMBEDDED_PREFIX + ":"):
        return tokenizer.split(":", 1)[1]
    return None


def load_tokenizer(tokenizer: Any, renderer: str | None = None) -> Any:
    """A name (see the module doc) loaded; a tokenizer object is returned as it is."""
    if not isinstance(tokenizer, str | None):
        return tokenizer
    family = _embedded_family(tokenizer, renderer)
    if family is not None:
        from lossmask.masks.assets.embedded import embedded_tokenizer

        try:
            return embedded_tokenizer(family)
        except ValueError as error:
            raise MaskError(str(error)) from None
    assert tokenizer is not None
    from transformers import AutoTokenizer

    local = Path(tokenizer).expanduser()
    advice = (
        "Point the tokenizer name at a local directory with tokenizer files, or leave it out to "
        "use the embedded tokenizer"
    )
    try:
        if local.is_dir():
            return AutoTokenizer.from_pretrained(str(local), local_files_only=True)
        try:  # the local Hugging Face cache first: no network, no retries
            return AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
        except OSError:
            pass
        if not _hub_reachable():
            raise MaskError(
                f"tokenizer {tokenizer!r} is not a local directory, not in the Hugging Face cache, "
                f"and huggingface.co cannot be reached. {advice}"
            )
        return AutoTokenizer.from_pretrained(tokenizer)
    except MaskError:
        raise
    except Exception as error:  # transformers raises OSError, ValueError, httpx errors, ...
        where = "local directory" if local.is_dir() else "hub id"
        raise MaskError(
            f"could not load tokenizer {tokenizer!r} as a {where}: {error}. {advice}"
        ) from None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick look before transformers spends a minute retrying an unreachable hub."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _create_renderer(tokenizer: Any, renderer: str) -> tuple[Any, str]:
    import renderers
    from renderers.configs import config_from_name

    from lossmask.masks.assets.embedded import EMBEDDED_NAMES

    if renderer == "auto":
        family = {name: fam for fam, name in EMBEDDED_NAMES.items()}.get(tokenizer.name_or_path)
        config = config_from_name(family) if family else None
    else:
        try:
            config = config_from_name(renderer)
        except Exception:
            from renderers.base import RENDERER_REGISTRY, _populate_registry

            _populate_registry()
            raise MaskError(
                f"unknown renderer {renderer!r}; available: {', '.join(sorted(RENDERER_REGISTRY))}"
            ) from None
    try:
        created = renderers.create_renderer(tokenizer, config)
    except Exception as error:
        raise MaskError(
            f"renderer {renderer!r} does not work with tokenizer {tokenizer.name_or_path!r}: "
            f"{error}. Pick the renderer of the tokenizer's model family"
        ) from None
    resolved = getattr(getattr(created, "config", None), "name", None) or renderer
    if resolved == "default":
        raise MaskError(
            f'renderer "auto" found no model-specific renderer for {tokenizer.name_or_path!r}; '
            "name one in [renderer] name, or drop [renderer] to use the chat template"
        )
    return created, resolved


def read_serving_stop_ids(directories: list[str | None]) -> list[int] | None:
    """`eos_token_id` (an int or a list: what vLLM stops on) from the first `generation_config.json`
    found in `directories` (the tokenizer's, then the model's); None when there is none."""
    import json

    for directory in directories:
        if directory is None:
            continue
        path = Path(directory).expanduser() / "generation_config.json"
        if not path.is_file():
            continue
        try:
            value = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
        except (OSError, ValueError, AttributeError) as error:
            raise MaskError(f"{path}: cannot read eos_token_id: {error}") from None
        values = value if isinstance(value, list) else [value]
        if value is None or not all(isinstance(v, int) and v >= 0 for v in values):
            raise MaskError(
                f"{path}: eos_token_id must be a token id or a list of token ids, not {value!r}"
            )
        return list(values)
    return None


def load_backend(
    *, tokenizer: Any = None, renderer: str | None = None, model: str | None = None
) -> MaskBackend:
    """A renderer backend when `renderer` is set, else a chat-template backend (see module doc).

    `tokenizer` may also be a transformers tokenizer object: its `name_or_path` is then where
    `generation_config.json` is looked for. `model` is only where a `generation_config.json` may
    be found, after the tokenizer's own directory; the embedded tokenizers carry their family's
    serving stops."""
    loaded = load_tokenizer(tokenizer, renderer)
    if renderer is None:
        from lossmask.masks.engine.template_backend import ChatTemplateBackend

        family = _embedded_family(tokenizer, renderer)
        if family is not None:
            from lossmask.masks.assets.embedded import embedded_serving_stop_ids

            stops: list[int] | None = embedded_serving_stop_ids(family)
        else:
            where = tokenizer if isinstance(tokenizer, str) else loaded.name_or_path
            stops = read_serving_stop_ids([where, model])
        return ChatTemplateBackend(loaded, serving_stop_ids=stops)
    from lossmask.masks.engine.renderer_backend import RendererBackend

    created, resolved = _create_renderer(loaded, renderer)
    return RendererBackend(created, loaded, resolved)
