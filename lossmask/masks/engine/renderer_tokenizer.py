"""The tokenizer a renderer is handed: its two encoding calls go straight to the Rust tokenizer.

A `renderers` renderer encodes a conversation piece by piece: `tokenizer.encode(text,
add_special_tokens=False)` per special-token-free span, and `tokenizer(text,
add_special_tokens=False, return_offsets_mapping=True)` per message to attribute content, plus
one probe call `tokenizer("a", ...)` each time to learn that the tokenizer gives offsets. On a
conversation that is ~25 calls, and through transformers each pays argument handling, truncation
and padding set-up and `BatchEncoding` building around the Rust call: about a third of a render
(bench/audit_bench.py, GLM-4.5 tool conversations: 751 us/row through transformers, 453 direct).

`DirectTokenizer` answers exactly those two calls from the Rust tokenizer
(`tokenizers.Tokenizer.encode`) and hands every other attribute to the transformers tokenizer.
It is used only where transformers' own path is that same Rust call and nothing else (the
method of `PreTrainedTokenizerFast` is not overridden, no truncation or padding is set, the Rust
tokenizer's `encode_special_tokens` is what transformers would set from `split_special_tokens`),
and it checks itself: its first `CHECKED_CALLS` answers of each kind are compared with
transformers' own, and one difference turns it off for good (every later call goes to
transformers). `show`, `audit`, `train` and `export` on the renderer path render the same
ids, content flags and message indices either way (tests/masks/test_renderer_tokenizer.py).
"""

from __future__ import annotations

from typing import Any

CHECKED_CALLS = 64


def direct_tokenizer(tokenizer: Any) -> Any:
    """`tokenizer`, or a `DirectTokenizer` over it where the direct path is transformers' own."""
    try:
        from transformers import PreTrainedTokenizerFast
        from transformers.tokenization_utils_base import PreTrainedTokenizerBase
    except ImportError:  # pragma: no cover - renderers needs transformers
        return tokenizer
    kind = type(tokenizer)
    rust = getattr(tokenizer, "_tokenizer", None)
    if (
        not isinstance(tokenizer, PreTrainedTokenizerFast)
        or rust is None
        or kind._encode_plus is not PreTrainedTokenizerFast._encode_plus
        or kind.encode is not PreTrainedTokenizerBase.encode
        or kind.__call__ is not PreTrainedTokenizerBase.__call__
    ):
        return tokenizer
    return DirectTokenizer(tokenizer)


class DirectTokenizer:
    """`encode` and `__call__` for one text without special tokens, from the Rust tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        self._wrapped = tokenizer
        self._rust = tokenizer._tokenizer
        self._unchecked = {"encode": CHECKED_CALLS, "call": CHECKED_CALLS}
        self.enabled = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)

    def __len__(self) -> int:
        return len(self._wrapped)

    def _direct(self, text: Any, add_special_tokens: bool, kwargs: dict[str, Any]) -> bool:
        rust = self._rust
        return (
            self.enabled
            and type(text) is str
            and not add_special_tokens
            and not kwargs
            and rust.truncation is None
            and rust.padding is None
            and rust.encode_special_tokens == bool(self._wrapped.split_special_tokens)
        )

    def encode(self, text: Any, *args: Any, add_special_tokens: bool = True, **kwargs: Any) -> Any:
        if args or not self._direct(text, add_special_tokens, kwargs):
            return self._wrapped.encode(
                text, *args, add_special_tokens=add_special_tokens, **kwargs
            )
        ids = self._rust.encode(text, add_special_tokens=False).ids
        if self._unchecked["encode"]:
            self._unchecked["encode"] -= 1
            expected = self._wrapped.encode(text, add_special_tokens=False)
            if list(expected) != ids:
                self.enabled = False
                return expected
        return ids

    def __call__(
        self,
        text: Any,
        *args: Any,
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        **kwargs: Any,
    ) -> Any:
        if args or not return_offsets_mapping or not self._direct(text, add_special_tokens, kwargs):
            return self._wrapped(
                text,
                *args,
                add_special_tokens=add_special_tokens,
                return_offsets_mapping=return_offsets_mapping,
                **kwargs,
            )
        encoding = self._rust.encode(text, add_special_tokens=False)
        ids = encoding.ids
        answer = {
            "input_ids": ids,
            "attention_mask": encoding.attention_mask,
            "offset_mapping": encoding.offsets,
        }
        if self._unchecked["call"]:
            self._unchecked["call"] -= 1
            expected = self._wrapped(text, add_special_tokens=False, return_offsets_mapping=True)
            if list(expected["input_ids"]) != ids or [
                tuple(span) for span in expected["offset_mapping"]
            ] != [tuple(span) for span in encoding.offsets]:
                self.enabled = False
                return expected
        return answer
