"""Tokenizing a training text whose beginning repeats: a preamble seen before is not re-encoded.

Tool-calling datasets give most rows the same tools, and a chat template writes them first, as a
preamble of several hundred tokens (the GLM-4.5 template: about 70% of a short tool conversation).
The full text is `P + R` with `P` that preamble. A `tokenizers.Tokenizer` splits its input at
the added tokens (special tokens) it matches in the raw text *before* it normalizes,
pre-tokenizes and applies its model, and handles each piece between them on its own; its
post-processor, without special tokens added, adjusts tokens one at a time. So when `R` starts
with such an added token, `encode(P + R)` is `encode(P)` followed by `encode(R)` with offsets
shifted by `len(P)` — provided that

- no added token occurs across the boundary (the match at the boundary would differ),
- no added token strips the whitespace to its left (`lstrip`) or matches whole words only
  (`single_word`): both look across a boundary,
- the tokenizer neither truncates nor pads, and matches special tokens (`encode_special_tokens`
  off),
- a Metaspace pre-tokenizer that prepends its space to the first piece only (`prepend_scheme =
  "first"`) sees the same first piece: it does, `P` starts the text in both encodings and the piece
  after the boundary token starts after position 0 in both.

The tokenizer's properties are checked once, the boundary for every text. A preamble is encoded
on its own only when it comes back (a dataset whose rows all have different tools pays nothing but
a lookup), and its first use is checked against the full encoding: a difference turns this off for
the tokenizer for good, and the full encoding is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

Encoded = tuple[list[int], list[int], list[int]]
"""(ids, where each token starts, where each token ends) in characters of the text."""

_REMEMBERED = 64  # preambles kept (distinct tool lists in recent rows)


@dataclass
class _Preamble:
    ids: list[int]
    starts: list[int]
    ends: list[int]
    crossing: tuple[str, ...]
    """The rest of each added token that could start inside the preamble and run past its end:
    the text after the preamble must start with none of them."""
    checked: bool = False


def encode_full(tokenizer: Any, text: str) -> Encoded:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    offsets = encoding.offsets
    return encoding.ids, list(map(itemgetter(0), offsets)), list(map(itemgetter(1), offsets))


class PreambleEncoder:
    """`encode(text, preamble)`: the tokenizer's encoding of `text`, which starts with `preamble`
    (module doc)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        added = list(tokenizer.get_added_tokens_decoder().values())
        self.enabled = all(not token.lstrip and not token.single_word for token in added)
        # Added tokens matched in the raw text: the pieces are cut at these.
        self._raw = tuple(token.content for token in added if not token.normalized)
        self._preambles: dict[str, _Preamble | None] = {}  # None: seen once

    def encode(self, text: str, preamble: str) -> Encoded:
        tokenizer = self.tokenizer
        cut = len(preamble)
        if (
            not self.enabled
            or not cut
            or tokenizer.truncation is not None
            or tokenizer.padding is not None
            or tokenizer.encode_special_tokens
            or not text.startswith(self._raw, cut)
        ):
            return encode_full(tokenizer, text)
        if preamble not in self._preambles:  # new: remember it was seen
            self._remember(preamble, None)
            return encode_full(tokenizer, text)
        known = self._preambles[preamble]
        if known is None:  # seen once before: it comes back, so encode it on its own
            self._remember(preamble, self._encode_preamble(preamble))
            return encode_full(tokenizer, text)
        rest = text[cut:]
        if known.crossing and rest.startswith(known.crossing):
            return encode_full(tokenizer, text)
        encoding = tokenizer.encode(rest, add_special_tokens=False)
        offsets = encoding.offsets
        spliced = (
            known.ids + encoding.ids,
            known.starts + [start + cut for start, _ in offsets],
            known.ends + [end + cut for _, end in offsets],
        )
        if not known.checked:
            full = encode_full(tokenizer, text)
            if full != spliced:  # the tokenizer does not split as the module doc says
                self.enabled = False
                return full
            known.checked = True
        return spliced

    def _encode_preamble(self, preamble: str) -> _Preamble:
        ids, starts, ends = encode_full(self.tokenizer, preamble)
        crossing = {
            token[split:]
            for token in self._raw
            for split in range(1, len(token))
            if preamble.endswith(token[:split])
        }
        return _Preamble(ids, starts, ends, tuple(sorted(crossing)))

    def _remember(self, preamble: str, encoded: _Preamble | None) -> None:
        self._preambles.pop(preamble, None)
        self._preambles[preamble] = encoded
        while len(self._preambles) > _REMEMBERED:
            del self._preambles[next(iter(self._preambles))]
