"""The preamble encoder gives exactly the tokenizer's own encoding of the whole text.

The reference is `tokenizers.Tokenizer.encode(text)` of the full text, computed here; the encoder
under test splices a remembered preamble's encoding onto the rest's. Every cut where the rest
starts with an added token is tried, each text three times (first sight, second sight with the
preamble encoded, then the spliced path), on the embedded GLM-4.5 and Qwen3 vocabularies and, where
npm's package is installed, on the real Qwen3 vocabulary; then on tokenizers made to break the
splice (an added token crossing the cut, an `lstrip` token), which must fall back to the full
encoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

from lossmask.masks import generate_conversations, load_backend
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.masks.engine.template_encoding import PreambleEncoder
from tests.masks.test_mask_real_vocabularies import real_tokenizer_dir


def reference(tokenizer: Tokenizer, text: str) -> tuple[list[int], list[int], list[int]]:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return (
        list(encoding.ids),
        [start for start, _ in encoding.offsets],
        [end for _, end in encoding.offsets],
    )


def added_token_cuts(tokenizer: Tokenizer, text: str) -> list[int]:
    """Every position where an added token's text starts (the cuts the encoder can splice at)."""
    contents = [token.content for token in tokenizer.get_added_tokens_decoder().values()]
    return sorted({i for content in contents for i in _occurrences(text, content) if i > 0})


def _occurrences(text: str, content: str) -> list[int]:
    found, start = [], text.find(content)
    while start != -1:
        found.append(start)
        start = text.find(content, start + 1)
    return found


def rendered(backend: Any, count: int) -> list[str]:
    texts = []
    for conversation in generate_conversations(count, seed=5):
        messages, tools, _ = normalise_conversation(conversation)
        texts.append(
            str(backend.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False))
        )
    return texts


def assert_spliced_equals_full(tokenizer: Tokenizer, texts: list[str]) -> int:
    """Each text at each cut, three times; returns how many encodings took the spliced path."""
    encoder = PreambleEncoder(tokenizer)
    spliced = 0
    for text in texts:
        for cut in added_token_cuts(tokenizer, text):
            expected = reference(tokenizer, text)
            for _ in range(3):
                before = encoder._preambles.get(text[:cut])
                assert encoder.encode(text, text[:cut]) == expected, (cut, text[:80])
                spliced += before is not None and before.checked
    return spliced


@pytest.mark.parametrize("name", ["embedded:glm-4.5-notags", "embedded:qwen3"])
def test_splicing_equals_the_full_encoding_on_embedded_vocabularies(name: str) -> None:
    backend = load_backend(tokenizer=name)
    tokenizer = backend.tokenizer._tokenizer  # type: ignore[attr-defined]
    spliced = assert_spliced_equals_full(tokenizer, rendered(backend, 6))
    assert spliced > 100  # the spliced path ran, not only the fallback


def test_splicing_equals_the_full_encoding_on_the_real_qwen3_vocabulary(tmp_path: Path) -> None:
    directory = real_tokenizer_dir(
        "tokenizer-qwen3", tmp_path / "qwen3", ["<|im_end|>", "<|endoftext|>"]
    )
    backend = load_backend(tokenizer=str(directory))
    tokenizer = backend.tokenizer._tokenizer  # type: ignore[attr-defined]
    spliced = assert_spliced_equals_full(tokenizer, rendered(backend, 4))
    assert spliced > 50


def _word_tokenizer(*added: AddedToken) -> Tokenizer:
    vocab = {"[UNK]": 0, "a": 1, "b": 2, "Y": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(list(added))
    return tokenizer


def test_an_added_token_across_the_cut_falls_back_to_the_full_encoding() -> None:
    # "Y[X]" is one added token: cut before "[X]", a splice would give "Y" + "[X]".
    tokenizer = _word_tokenizer(AddedToken("[X]", special=True), AddedToken("Y[X]", special=True))
    encoder = PreambleEncoder(tokenizer)
    text = "a b Y[X] a"
    cut = text.index("[X]")
    expected = reference(tokenizer, text)
    assert len(expected[0]) == 4  # a, b, Y[X], a: the crossing token is one id
    for _ in range(4):
        assert encoder.encode(text, text[:cut]) == expected
    assert encoder.enabled


def test_a_token_that_strips_to_its_left_turns_splicing_off() -> None:
    tokenizer = _word_tokenizer(AddedToken("[X]", special=True, lstrip=True))
    encoder = PreambleEncoder(tokenizer)
    assert not encoder.enabled
    text = "a b [X] a"
    for _ in range(3):
        assert encoder.encode(text, text[: text.index("[X]")]) == reference(tokenizer, text)
