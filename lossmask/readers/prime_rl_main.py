"""prime-rl main's reading of an SFT config, as far as it decides which tokens train.

Modelled on prime-rl `559b447` (`packages/prime-rl-configs/src/prime_rl/configs/sft.py`,
`src/prime_rl/trainer/sft/data.py`), in force since PR #2988 (commit `5af45e4`, 2026-07-14):

- `[data.loss_mask]` is `LossMaskConfig`: four role booleans (defaults: assistant only) in a model
  that forbids other keys, so `loss_mask = "sampled"` (PR #2644, never merged) is rejected;
- SFT data is rendered by a typed renderer, never a chat template:
  `SFTConfig.validate_typed_renderer` refuses `[renderer] name = "default"`, and an automatic
  renderer (no `[renderer]`, or `"auto"`) for a model with no renderer registered in `renderers`'
  `MODEL_RENDERER_MAP` (fake data without `[val]` needs none);
- absent keys take main's defaults, which are not lossmask's: model `Qwen/Qwen3-0.6B`, dataset
  `PrimeIntellect/Reverse-Text-SFT`, `seq_len = 128`, `micro_batch_size = 1`.

Everything here is plain Python over parsed TOML, so `validate` and `migrate` use it without
importing pydantic models or `renderers` (the registry of renderers is carried as data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lossmask.errors import Problem
from lossmask.readers.prime_rl_main_registry import (
    REGISTERED_MODELS,
    RENDERER_NAMES,
    RENDERERS_VERSION,
)
from lossmask.schema.sections import DATA_SECTIONS, table_at

DEFAULT_MODEL = "Qwen/Qwen3-0.6B"
DEFAULT_DATASET = "PrimeIntellect/Reverse-Text-SFT"
DEFAULT_SEQ_LEN = 128
DEFAULT_MICRO_BATCH_SIZE = 1

# Main's own words (SFTConfig.validate_typed_renderer), after "but {reason}".
TYPED_RENDERER_REQUIRED = (
    "SFT requires a typed renderer with sampled-token and content attribution, but {reason}"
)
TYPED_RENDERER_ADVICE = (
    "implement and register the renderer in the renderers package, or explicitly select an "
    "existing typed renderer ([renderer] name) only when its template is verified to match"
)


def model_id(config: Mapping[str, Any]) -> str:
    """What main looks up in `MODEL_RENDERER_MAP`: `[tokenizer] name`, else `[model] name`."""
    for table in ("tokenizer", "model"):
        node = config.get(table)
        name = node.get("name") if isinstance(node, Mapping) else None
        if isinstance(name, str):
            return name
    return DEFAULT_MODEL


def renderer_name(config: Mapping[str, Any]) -> str:
    renderer = config.get("renderer")
    name = renderer.get("name") if isinstance(renderer, Mapping) else None
    return name if isinstance(name, str) else "auto"


def renders_real_samples(config: Mapping[str, Any]) -> bool:
    """Whether main needs a typed renderer: any data but fake data without `[val]`."""
    data = config.get("data")
    fake = isinstance(data, Mapping) and (data.get("type") == "fake" or "fake" in data)
    return not fake or isinstance(config.get("val"), Mapping)


def _renderer_key(config: Mapping[str, Any]) -> tuple[str, ...]:
    if isinstance(config.get("renderer"), Mapping) and "name" in config["renderer"]:
        return ("renderer", "name")
    for table in ("tokenizer", "model"):
        node = config.get(table)
        if isinstance(node, Mapping) and "name" in node:
            return (table, "name")
    return ()


def renderer_refusal(config: Mapping[str, Any]) -> Problem | None:
    """Main's refusal of the config's renderer, in main's words, or None when main accepts it."""
    if not renders_real_samples(config):
        return None
    name = renderer_name(config)
    key = _renderer_key(config)
    if name not in RENDERER_NAMES:
        return Problem(
            f"prime-rl main refuses this config: unknown renderer {name!r} (renderers "
            f"{RENDERERS_VERSION} has {', '.join(RENDERER_NAMES)})",
            ("renderer", "name"),
        )
    if name == "default":
        reason = "renderer.name='default' selects DefaultRenderer"
    elif name == "auto" and model_id(config) not in REGISTERED_MODELS:
        reason = f"no typed renderer is registered for {model_id(config)!r}"
    else:
        return None
    return Problem(
        "prime-rl main refuses this config: " + TYPED_RENDERER_REQUIRED.format(reason=reason),
        key,
        suggestion=TYPED_RENDERER_ADVICE,
    )


def loss_mask_refusals(config: Mapping[str, Any]) -> list[Problem]:
    """What main rejects in an SFT data section: a `loss_mask` that is not a table, lossmask's
    `content_roles` (main's data config forbids unknown keys)."""
    found = []
    for path in DATA_SECTIONS:
        section = table_at(config, path)
        if not isinstance(section, Mapping):
            continue
        value = section.get("loss_mask")
        if value is not None and not isinstance(value, Mapping):
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            found.append(
                Problem(
                    f"prime-rl main rejects loss_mask = {shown}: it reads [data.loss_mask] only as "
                    'a table of role booleans ("sampled" | "all" is lossmask\'s schema, from '
                    "prime-rl PR #2644, which was never merged)",
                    (*path, "loss_mask"),
                    suggestion='for main, "sampled" is what no loss_mask (or a table with '
                    "assistant = true) already trains; if this config is written for lossmask's "
                    'schema, pass --reader lossmask or set [tool.lossmask] reader = "lossmask"',
                )
            )
        if "content_roles" in section:
            found.append(
                Problem(
                    "prime-rl main rejects content_roles (lossmask schema v3): its data config "
                    "forbids unknown keys",
                    (*path, "content_roles"),
                    suggestion="for main, set the role to true in [data.loss_mask] (tool = true "
                    "trains the body of tool messages)",
                )
            )
    return found


NO_DATA_NOTE = (
    f'no [data] table: prime-rl main trains its default dataset "{DEFAULT_DATASET}" on the '
    "renderer's sampled tokens (before PR #2988 it trained assistant messages only)"
)
"""What an SFT launch without `[data]` trains under main (the default changed at #2988)."""
