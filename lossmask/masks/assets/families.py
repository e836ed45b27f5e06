"""A tiny, seeded tokenizer per `renderers` family, so every real renderer runs without a download.

Each renderer in `renderers` (0.1.12) looks its special tokens up by string
(`convert_tokens_to_ids`, or `encode` asserting a single id) and encodes everything else as text.
A byte-level BPE that carries the family's special tokens as added tokens is therefore enough for
the real renderer code to run and to produce its real per-token attribution (`message_indices`,
`sampled_mask`), with short ids.

`FAMILY_SPECIAL_TOKENS` lists, per renderer name, exactly the tokens that renderer resolves to a
single id (read from its source), plus tokens those renderers write as text that the released
tokenizers keep whole: `<think>` / `</think>` for Qwen3, DeepSeek-R1 and Kimi-K2.5, and Gemma 4's
string delimiter `<|"|>`. The first entry is the family's
end-of-text token (the tokenizer's EOS and pad). Vocabulary and merges are trained by `tokenizers`
on conversations from the seeded synthetic generator, so every machine gets the same ids.

Newlines are isolated before byte-level splitting: renderers encode a conversation piece by piece,
and pieces meet at newlines or special tokens, so with no merge across a newline the ids do not
depend on where a renderer cuts its pieces.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

FAMILY_VOCAB_SIZE = 1024
FAMILY_CORPUS_SEED = 4321

_U = "\u2581"  # DeepSeek writes spaces inside its special tokens as U+2581 (▁).
_DEEPSEEK_V3 = tuple(
    f"<｜{name.replace(' ', _U)}｜>"
    for name in (
        "end of sentence", "begin of sentence", "User", "Assistant", "tool calls begin",
        "tool calls end", "tool call begin", "tool call end", "tool sep", "tool outputs begin",
        "tool outputs end", "tool output begin", "tool output end",
    )
)  # fmt: skip
_GLM = (
    "<|endoftext|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|observation|>", "<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>",
    "</arg_key>", "<arg_value>", "</arg_value>",
)  # fmt: skip
_CHATML = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>",
    "</tool_call>", "<tool_response>", "</tool_response>",
)  # fmt: skip
_QWEN_VISION = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
_KIMI = (
    "<|im_end|>", "<|im_system|>", "<|im_user|>", "<|im_assistant|>", "<|im_middle|>",
    "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", "<|tool_call_begin|>",
    "<|tool_call_argument_begin|>", "<|tool_call_end|>",
)  # fmt: skip
_LAGUNA = ("〈|EOS|〉", "<assistant>", "</assistant>", "<think>", "</think>", "<tool_call>",
           "</tool_call>")  # fmt: skip
_HY = ":opensource"
_HY3 = (
    f"<｜hy_eos{_HY}｜>", f"<｜hy_begin_of_sentence{_HY}｜>", f"<｜hy_User{_HY}｜>",
    f"<｜hy_Assistant{_HY}｜>", f"<｜reasoning_mode{_HY}｜>",
    *(f"<{tag}{_HY}>" for tag in (
        "think", "/think", "tool_calls", "/tool_calls", "tool_call", "/tool_call", "tool_sep",
        "arg_key", "/arg_key", "arg_value", "/arg_value", "tool_responses", "/tool_responses",
        "tool_response", "/tool_response",
    )),
)  # fmt: skip

_DEEPSEEK_V4 = (
    _DEEPSEEK_V3[0], _DEEPSEEK_V3[1], "<｜User｜>", "<｜Assistant｜>", "<｜latest_reminder｜>",
    "<think>", "</think>", "｜DSML｜", "<｜action｜>", "<｜query｜>", "<｜authority｜>",
    "<｜domain｜>", "<｜title｜>", "<｜read_url｜>",
)  # fmt: skip
_GEMMA4 = (
    "<eos>", "<bos>", "<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>", "<|tool>",
    "<tool|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|image>",
    "<image|>", "<|image|>", '<|"|>',
)  # fmt: skip
_GPT_OSS = (
    "<|endoftext|>", "<|start|>", "<|end|>", "<|return|>", "<|call|>", "<|channel|>", "<|message|>",
    "<|constrain|>",
)  # fmt: skip
_INKLING = (
    "<|endoftext|>", "<|message_system|>", "<|message_user|>", "<|message_model|>",
    "<|message_tool|>", "<|end_message|>", "<|content_text|>", "<|content_thinking|>",
    "<|content_xml|>", "<|content_invoke_tool_json|>", "<|content_invoke_tool_text|>",
    "<|content_model_end_sampling|>", "<|content_image|>", "<|content_audio_input|>",
    "<|audio_end|>", "<|unused_200053|>", "<|unused_200054|>",
)  # fmt: skip
_KIMI_K25 = (
    *_KIMI, "<|endoftext|>", "<think>", "</think>", "<|media_begin|>", "<|media_content|>",
    "<|media_end|>", "<|media_pad|>",
)  # fmt: skip
_LLAMA3 = (
    "<|end_of_text|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>",
)  # fmt: skip
_MINIMAX = (
    "[e~[", "]~!b[", "]~b]", "<think>", "</think>", "<minimax:tool_call>", "</minimax:tool_call>",
)  # fmt: skip
_GLM_TOOL_RESPONSE = (*_GLM, "<tool_response>", "</tool_response>")

FAMILY_SPECIAL_TOKENS: dict[str, tuple[str, ...]] = {
    "deepseek-r1": (*_DEEPSEEK_V3, "<think>", "</think>"),
    "deepseek-v3": _DEEPSEEK_V3,
    "deepseek-v4": _DEEPSEEK_V4,
    "gemma4": _GEMMA4,
    "glm-4.5": _GLM,
    "glm-5": _GLM_TOOL_RESPONSE,
    "glm-5.1": _GLM_TOOL_RESPONSE,
    "glm-5.3": _GLM_TOOL_RESPONSE,
    "gpt-oss": _GPT_OSS,
    "hy3": _HY3,
    "inkling": _INKLING,
    "kimi-k2": _KIMI,
    "kimi-k2.5": _KIMI_K25,
    "laguna-m.1": _LAGUNA,
    "laguna-s-2.1": _LAGUNA,
    "laguna-xs-2.1": _LAGUNA,
    "laguna-xs.2": _LAGUNA,
    "llama-3": _LLAMA3,
    "minimax-m2": _MINIMAX,
    "nemotron-3": _CHATML,
    "nemotron-3-ultra": _CHATML,
    "nemotron-3.5": (*_CHATML, "<image>"),
    "prime-qwen3": _CHATML,
    "qwen3": _CHATML,
    "qwen3-vl": (*_CHATML, *_QWEN_VISION),
    "qwen3.5": (*_CHATML, *_QWEN_VISION),
    "qwen3.6": (*_CHATML, *_QWEN_VISION),
    "qwen3.8": (*_CHATML, *_QWEN_VISION),
}
"""Renderer name -> the special tokens its embedded tokenizer carries (first: end of text)."""

_FIXED_LINES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "You may call one or more functions to assist with the user query.",
    "For each function call, output the function name and arguments.",
    "0123456789 -+*/=()[]{}<>,.;:!?'\"_#@&%$ \t",
)


def build_tokenizer(
    special_tokens: Sequence[str],
    name_or_path: str,
    *,
    vocab_size: int = FAMILY_VOCAB_SIZE,
    corpus_seed: int = FAMILY_CORPUS_SEED,
) -> PreTrainedTokenizerFast:
    """A byte-level BPE carrying `special_tokens` (the first is EOS and pad), trained in code.

    Deterministic: the corpus comes from the seeded synthetic generator and `tokenizers`' BPE
    trainer is deterministic for a fixed corpus. Special tokens get ids 0..len-1 in list order.
    """
    from transformers import PreTrainedTokenizerFast

    from lossmask.masks.assets.embedded import train_byte_level_bpe, training_corpus

    if not special_tokens:
        raise ValueError("build_tokenizer needs at least one special token (the end of text)")
    tokenizer = train_byte_level_bpe(
        special_tokens, training_corpus(_FIXED_LINES, corpus_seed), vocab_size
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=special_tokens[0],
        pad_token=special_tokens[0],
        name_or_path=name_or_path,
        model_max_length=1 << 20,
    )


@functools.cache
def family_tokenizer(renderer_name: str) -> PreTrainedTokenizerFast:
    """The cached embedded tokenizer of one renderer family (`name_or_path` `embedded:<name>`)."""
    if renderer_name not in FAMILY_SPECIAL_TOKENS:
        raise ValueError(
            f"no embedded tokenizer for renderer {renderer_name!r}; "
            f"choose from {sorted(FAMILY_SPECIAL_TOKENS)}"
        )
    return build_tokenizer(FAMILY_SPECIAL_TOKENS[renderer_name], f"embedded:{renderer_name}")


def family_renderer(renderer_name: str) -> Any:
    """The real `renderers` renderer `renderer_name` (default config) on its embedded tokenizer.

    Raises whatever the renderer raises when it cannot run on an embedded tokenizer (gpt-oss
    loads its Harmony encoding from the network, for example).
    """
    import renderers
    from renderers.configs import config_from_name

    return renderers.create_renderer(
        family_tokenizer(renderer_name), config_from_name(renderer_name)
    )


def renderer_names() -> list[str]:
    """Every renderer the installed `renderers` registers, except the chat-template fallback."""
    from renderers.base import RENDERER_REGISTRY, _populate_registry

    _populate_registry()
    return sorted(name for name in RENDERER_REGISTRY if name != "default")
