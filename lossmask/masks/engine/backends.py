"""Choosing a backend: a `renderers` renderer, or a tokenizer's chat template.

`load_backend(tokenizer=None, renderer=None)`:
- `tokenizer`: None or `"embedded"` -> the embedded tiny tokenizer of the renderer's family (GLM-4.5
  when there is no renderer); `"embedded:glm-4.5"`, `"embedded:glm-4.5-notags"` (the GLM-4.5
  template without `{% generation %}` blocks, like the hub's) or `"embedded:qwen3"`; anything else
  -> a local directory, else a hub id resolved as transformers resolves it: from the local Hugging
  Face cache (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`), offline;
- `renderer`: None -> the chat-template path; `"glm-4.5"`, `"qwen3"`, ... -> that renderer;
  `"auto"` -> renderers' own choice from the tokenizer's name.

The serving stops of the chat-template path (what vLLM stops on) come from, first found:
`stop_tokens` (the config's `[tokenizer] stop_tokens`, like axolotl's `eot_tokens`), the
`generation_config.json` `eos_token_id` of the tokenizer's then the model's directory or hub cache
entry, else the tokenizer's EOS. Every backend says where its stops came from (`stop_source`), and
`stop_warning` is set when they are EOS alone while the chat template closes turns with other
tokens: `"sampled"` would then not train those closers as stops (`show` and `audit` warn, `train`
refuses until the stops are named).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

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
    cache = hub_cache_dir()
    try:
        if local.is_dir():
            return AutoTokenizer.from_pretrained(str(local), local_files_only=True)
        try:  # the local Hugging Face cache first: no network, no retries
            return AutoTokenizer.from_pretrained(tokenizer, local_files_only=True, cache_dir=cache)
        except OSError:
            pass
        if not _hub_reachable():
            raise MaskError(
                f"tokenizer {tokenizer!r} is not a local directory, not in the Hugging Face cache "
                f"({cache}), and huggingface.co cannot be reached. {advice}"
            )
        return AutoTokenizer.from_pretrained(tokenizer, cache_dir=cache)
    except MaskError:
        raise
    except Exception as error:  # transformers raises OSError, ValueError, httpx errors, ...
        where = "local directory" if local.is_dir() else "hub id"
        raise MaskError(
            f"could not load tokenizer {tokenizer!r} as a {where}: {error}. {advice}"
        ) from None


def hub_cache_dir() -> str:
    """The Hugging Face hub cache, read from the environment now (as `huggingface_hub` reads it at
    import): `HF_HUB_CACHE`, else the legacy `HUGGINGFACE_HUB_CACHE`, else `HF_HOME/hub`, else
    `$XDG_CACHE_HOME/huggingface/hub` or `~/.cache/huggingface/hub`."""
    import os

    home = os.getenv(
        "HF_HOME",
        os.path.join(os.getenv("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"),
    )
    home = os.path.expandvars(os.path.expanduser(home))
    legacy = os.getenv("HUGGINGFACE_HUB_CACHE", os.path.join(home, "hub"))
    return os.path.expandvars(os.path.expanduser(os.getenv("HF_HUB_CACHE", legacy)))


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
    from lossmask.masks.engine.renderer_tokenizer import direct_tokenizer

    try:
        created = renderers.create_renderer(direct_tokenizer(tokenizer), config)
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


def generation_config_path(name: str | None) -> Path | None:
    """`generation_config.json` of a local directory or of a hub id in the local cache."""
    if name is None or name.startswith(EMBEDDED_PREFIX):
        return None
    local = Path(name).expanduser()
    if local.is_dir():
        found = local / "generation_config.json"
        return found if found.is_file() else None
    if local.exists() or name.count("/") != 1:
        return None  # not a directory, and not an `org/name` hub id
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "generation_config.json", cache_dir=hub_cache_dir())
    except ValueError:  # not a valid repo id
        return None
    return Path(cached) if isinstance(cached, str) else None


def read_serving_stop_ids(directories: list[str | None]) -> list[int] | None:
    """`eos_token_id` (an int or a list: what vLLM stops on) from the first `generation_config.json`
    found for `directories` (the tokenizer's, then the model's: a local directory, or a hub id in
    the local cache); None when there is none."""
    found = serving_stops_from_generation_config(directories)
    return found[0] if found is not None else None


def serving_stops_from_generation_config(
    names: list[str | None],
) -> tuple[list[int], Path] | None:
    """(eos_token_id as a list, the file it came from), from the first `generation_config.json`."""
    import json

    for name in names:
        path = generation_config_path(name)
        if path is None:
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
        return list(values), path
    return None


def named_stop_ids(tokenizer: Any, stop_tokens: tuple[str, ...]) -> list[int]:
    """The ids of `[tokenizer] stop_tokens`; each must be one token of the vocabulary."""
    ids = []
    for token in stop_tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
            raise MaskError(
                f"tokenizer.stop_tokens: {token!r} is not a token of {tokenizer.name_or_path!r}; "
                'name each stop as one token of the vocabulary (e.g. "<|user|>")'
            )
        ids.append(token_id)
    return ids


def template_turn_closers(tokenizer: Any) -> list[str]:
    """The special tokens a chat template writes between an assistant turn and the next user turn
    (GLM-4.5: `<|user|>`); empty when the template closes turns with EOS, or cannot say."""
    probe = [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception:  # a template that cannot render this probe says nothing about closers
        return []
    if not isinstance(text, str) or "A1" not in text or "Q2" not in text:
        return []
    span = text[text.index("A1") + 2 : text.index("Q2", text.index("A1"))]
    ids = tokenizer(span, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id in ids:
        return []
    specials = set(getattr(tokenizer, "all_special_ids", []) or [])
    specials |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if t.special}
    return [tokenizer.convert_ids_to_tokens(i) for i in ids if i in specials]


def _stop_warning(tokenizer: Any, looked_in: list[str | None]) -> str | None:
    closers = template_turn_closers(tokenizer)
    if not closers:
        return None
    eos = tokenizer.eos_token
    where = ", ".join(repr(name) for name in dict.fromkeys(n for n in looked_in if n)) or "none"
    suggested = ", ".join(f'"{t}"' for t in dict.fromkeys([eos, *closers]) if t)
    return (
        f"no serving stop beyond EOS {eos!r}: no generation_config.json was found (looked for "
        f"one for {where}, as a local directory or in the Hugging Face cache {hub_cache_dir()}), "
        f"but the chat template closes an assistant turn with {', '.join(closers)}; under "
        '"sampled" only EOS counts as a stop, so the model is not taught to stop at those closers. '
        f"Name the stops: [tokenizer] stop_tokens = [{suggested}] (or --set "
        f"'tokenizer.stop_tokens=[{suggested}]'), as generation_config.json's eos_token_id would"
    )


def load_backend(
    *,
    tokenizer: Any = None,
    renderer: str | None = None,
    model: str | None = None,
    stop_tokens: tuple[str, ...] | None = None,
) -> MaskBackend:
    """A renderer backend when `renderer` is set, else a chat-template backend (see module doc).

    `tokenizer` may also be a transformers tokenizer object: its `name_or_path` is then where
    `generation_config.json` is looked for. `model` is only where a `generation_config.json` may
    be found, after the tokenizer's own directory; the embedded tokenizers carry their family's
    serving stops. `stop_tokens` names the chat template's serving stops instead (a renderer has
    its own)."""
    loaded = load_tokenizer(tokenizer, renderer)
    if renderer is None:
        from lossmask.masks.engine.template_backend import ChatTemplateBackend

        family = _embedded_family(tokenizer, renderer)
        warning = None
        if stop_tokens:
            stops: list[int] | None = named_stop_ids(loaded, stop_tokens)
            source = "tokenizer.stop_tokens"
        elif family is not None:
            from lossmask.masks.assets.embedded import embedded_serving_stop_ids

            stops = embedded_serving_stop_ids(family)
            source = f"the embedded {family} tokenizer"
        else:
            where = tokenizer if isinstance(tokenizer, str) else loaded.name_or_path
            found = serving_stops_from_generation_config([where, model])
            stops = found[0] if found is not None else None
            source = str(found[1]) if found is not None else "the tokenizer's EOS"
            if found is None:
                warning = _stop_warning(loaded, [where, model])
        backend: Any = ChatTemplateBackend(loaded, serving_stop_ids=stops)
        backend.stop_source = source
        backend.stop_warning = warning
        return cast(MaskBackend, backend)
    from lossmask.masks.engine.renderer_backend import RendererBackend

    created, resolved = _create_renderer(loaded, renderer)
    return RendererBackend(created, loaded, resolved)
