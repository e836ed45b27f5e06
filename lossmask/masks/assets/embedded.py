"""Tiny tokenizers built in code: no hub, no network, the same ids on every machine.

Each is a byte-level BPE trained by `tokenizers` on a small seeded corpus (the synthetic weather
conversations plus a few fixed lines), carrying one model family's special tokens, wrapped as a
transformers `PreTrainedTokenizerFast` with the matching chat template. The real `renderers`
renderers run on them (they look the special tokens up by string), which is what makes the renderer
path testable without downloading a model.

Why `\\n` is its own pre-token: a renderer encodes a conversation piece by piece (one `encode`
per emitted chunk) while a chat template encodes the whole rendered string at once. Pieces always
meet at a special token or at a newline, so with newlines isolated no BPE merge can cross a piece
boundary and both paths give the same ids.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lossmask.masks.assets.chat_templates import (
    GLM45_CHAT_TEMPLATE,
    QWEN3_CHAT_TEMPLATE,
    strip_generation_markers,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

GLM45_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|observation|>", "<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>",
    "</arg_key>", "<arg_value>", "</arg_value>",
)  # fmt: skip
QWEN3_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
    "<tool_response>", "</tool_response>", "<think>", "</think>",
)  # fmt: skip

EMBEDDED_VOCAB_SIZE = 1024
CORPUS_SEED = 1234
EMBEDDED_NAMES: dict[str, str] = {"glm-4.5": "embedded:glm-4.5", "qwen3": "embedded:qwen3"}
"""Renderer name -> the `name_or_path` the embedded tokenizer of that family reports."""

_FIXED_LINES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "You may call one or more functions to assist with the user query.",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "For each function call, output the function name and arguments.",
    '<tool_response>\n</tool_response>\n{"name": "get_weather", "arguments": {}}',
    "Temperature, humidity, wind speed and the forecast for today and tomorrow.",
    "0123456789 -+*/=()[]{}<>,.;:!?'\"_#@&%$ \t",
)


def training_corpus(fixed_lines: Sequence[str], seed: int) -> list[str]:
    """What a test tokenizer is trained on: `fixed_lines`, the weather tool's schema, and the
    texts of 200 synthetic tool-calling conversations drawn with `seed`."""
    # Imported here: synthetic imports errors, and this module must stay cheap to import.
    from lossmask.masks.assets.synthetic import GET_WEATHER_TOOL, generate_conversations

    lines = [*fixed_lines, json.dumps(GET_WEATHER_TOOL)]
    for conversation in generate_conversations(200, seed=seed, reasoning_rate=0.3):
        for message in conversation["messages"]:
            lines.append(message.get("content") or "")
            lines.append(message.get("reasoning_content") or "")
            for call in message.get("tool_calls") or []:
                lines.append(call["function"]["arguments"])
    return [line for line in lines if line]


def train_byte_level_bpe(specials: Sequence[str], corpus: Iterable[str], vocab_size: int) -> Any:
    """A `tokenizers` byte-level BPE trained on `corpus`, newlines kept as their own pieces, the
    special tokens first (ids 0..n-1 in order). Deterministic for a fixed corpus."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex("\n"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return tokenizer


def build_tiny_tokenizer(
    specials: tuple[str, ...], name: str, chat_template: str, *, eos_token: str
) -> PreTrainedTokenizerFast:
    """A byte-level BPE over the seeded corpus with these special tokens (the embedded recipe;
    tests use it to give real template shapes a tokenizer with their own special tokens)."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = train_byte_level_bpe(
        specials, training_corpus(_FIXED_LINES, CORPUS_SEED), EMBEDDED_VOCAB_SIZE
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=eos_token,
        pad_token=specials[0],
        name_or_path=name,
        model_max_length=1 << 20,
    )
    wrapped.chat_template = chat_template
    return wrapped


@functools.cache
def glm45_tokenizer() -> PreTrainedTokenizerFast:
    """The tiny GLM-4.5 tokenizer (EOS `<|endoftext|>`), with `GLM45_CHAT_TEMPLATE`. Built once."""
    return build_tiny_tokenizer(
        GLM45_SPECIAL_TOKENS,
        EMBEDDED_NAMES["glm-4.5"],
        GLM45_CHAT_TEMPLATE,
        eos_token="<|endoftext|>",
    )


@functools.cache
def qwen3_tokenizer() -> PreTrainedTokenizerFast:
    """The tiny Qwen3/ChatML tokenizer (EOS `<|im_end|>`) with `QWEN3_CHAT_TEMPLATE`; built once."""
    return build_tiny_tokenizer(
        QWEN3_SPECIAL_TOKENS, EMBEDDED_NAMES["qwen3"], QWEN3_CHAT_TEMPLATE, eos_token="<|im_end|>"
    )


@functools.cache
def glm45_notags_tokenizer() -> PreTrainedTokenizerFast:
    """The tiny GLM-4.5 tokenizer with the template's `{% generation %}` blocks removed: the shape
    of the real GLM-4.5 hub template, where only serving semantics can say what is sampled."""
    tokenizer = copy.copy(glm45_tokenizer())
    tokenizer.name_or_path = EMBEDDED_GLM45_NOTAGS
    tokenizer.chat_template = strip_generation_markers(GLM45_CHAT_TEMPLATE)
    return tokenizer


EMBEDDED_GLM45_NOTAGS = "embedded:glm-4.5-notags"
SERVING_STOPS: dict[str, tuple[str, ...]] = {
    "glm-4.5": ("<|endoftext|>", "<|user|>", "<|observation|>"),
    "glm-4.5-notags": ("<|endoftext|>", "<|user|>", "<|observation|>"),
    "qwen3": ("<|im_end|>", "<|endoftext|>"),
}
"""Each family's serving stops, as its real `generation_config.json` `eos_token_id` lists them."""


def embedded_tokenizer(family: str) -> PreTrainedTokenizerFast:
    """`"glm-4.5"`, `"glm-4.5-notags"` or `"qwen3"` -> the cached embedded tokenizer with its chat
    template; any other renderer family (`families.FAMILY_SPECIAL_TOKENS`, no chat template) ->
    that family's tokenizer, for its renderer."""
    from lossmask.masks.assets.families import FAMILY_SPECIAL_TOKENS, family_tokenizer

    builders = {
        "glm-4.5": glm45_tokenizer,
        "glm-4.5-notags": glm45_notags_tokenizer,
        "qwen3": qwen3_tokenizer,
    }
    if family in builders:
        return builders[family]()
    if family in FAMILY_SPECIAL_TOKENS:
        return family_tokenizer(family)
    raise ValueError(
        f"no embedded tokenizer for {family!r}; choose from "
        + ", ".join(
            f"embedded:{name}" for name in [*sorted(builders), *sorted(FAMILY_SPECIAL_TOKENS)]
        )
    )


def embedded_serving_stop_ids(family: str) -> list[int]:
    """The ids a server stops on for an embedded family (its generation config's eos_token_id)."""
    tokenizer = embedded_tokenizer(family)
    ids = tokenizer.convert_tokens_to_ids(list(SERVING_STOPS[family]))
    assert isinstance(ids, list)  # a list of tokens gives a list of ids
    return ids
