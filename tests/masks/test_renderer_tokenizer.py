"""The renderer's `DirectTokenizer`: the renders of transformers' own calls, or out of the way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import MaskBackend, generate_conversations
from lossmask.masks.app.conversations import read_rows
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.masks.engine.renderer_tokenizer import (
    CHECKED_CALLS,
    DirectTokenizer,
    direct_tokenizer,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = [
    row.conversation for row in read_rows(REPO_ROOT / "examples/data/weather-tools.jsonl")
]
CONVERSATIONS += generate_conversations(200, seed=7)


def _plain_renderer(backend: MaskBackend) -> Any:
    """The renderer as `renderers` builds it over the transformers tokenizer itself."""
    import renderers

    return renderers.create_renderer(backend.tokenizer, backend.renderer.config)


def _columns(rendered: Any) -> tuple[list[Any], ...]:
    return (
        list(rendered.token_ids),
        list(rendered.sampled_mask),
        list(rendered.is_content),
        list(rendered.message_indices),
    )


@pytest.mark.parametrize("backend_name", ["glm_renderer", "qwen_renderer"])
def test_renders_equal_the_renderer_over_the_transformers_tokenizer(
    backend_name: str, request: pytest.FixtureRequest
) -> None:
    backend = request.getfixturevalue(backend_name)
    direct = backend.renderer._tokenizer
    assert isinstance(direct, DirectTokenizer)
    plain = _plain_renderer(backend)
    assert not isinstance(plain._tokenizer, DirectTokenizer)
    for conversation in CONVERSATIONS:
        messages, tools, _ = normalise_conversation(conversation)
        ours = backend.renderer.render(messages, tools=tools)
        theirs = plain.render(messages, tools=tools)
        assert _columns(ours) == _columns(theirs)
        assert len(ours.is_content) == len(ours.token_ids)  # content attribution kept
    assert direct.enabled  # no call ever differed from transformers' own


def test_every_answer_equals_transformers_own(glm_renderer: MaskBackend) -> None:
    tokenizer = glm_renderer.tokenizer
    direct = direct_tokenizer(tokenizer)
    texts = [
        "",
        "a",
        "<|observation|>\n<tool_call>get_weather",
        "Zürich  \n\n 42°C",
        " ".join(["x"] * 300),
    ]
    for text in texts * 20:  # past the checked calls too
        assert direct.encode(text, add_special_tokens=False) == tokenizer.encode(
            text, add_special_tokens=False
        )
        ours = direct(text, add_special_tokens=False, return_offsets_mapping=True)
        theirs = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        assert list(ours["input_ids"]) == list(theirs["input_ids"])
        assert [tuple(span) for span in ours["offset_mapping"]] == [
            tuple(span) for span in theirs["offset_mapping"]
        ]
    assert direct.enabled


def test_other_calls_and_settings_go_to_transformers(glm_renderer: MaskBackend) -> None:
    import copy

    tokenizer = copy.deepcopy(glm_renderer.tokenizer)
    direct = direct_tokenizer(tokenizer)
    text = "<|user|>\nhello there"
    # With special tokens, a batch, or split special tokens: transformers answers.
    assert direct.encode(text) == tokenizer.encode(text)
    assert (
        direct([text, text], add_special_tokens=False)["input_ids"]
        == tokenizer([text, text], add_special_tokens=False)["input_ids"]
    )
    tokenizer.split_special_tokens = True
    split = direct.encode(text, add_special_tokens=False)
    assert split == tokenizer.encode(text, add_special_tokens=False)
    tokenizer.split_special_tokens = False
    assert split != tokenizer.encode(text, add_special_tokens=False)  # the setting mattered
    assert direct.convert_tokens_to_ids("<|observation|>") == tokenizer.convert_tokens_to_ids(
        "<|observation|>"
    )
    assert len(direct) == len(tokenizer)


def test_a_tokenizer_class_that_changes_encoding_is_not_wrapped(glm_renderer: MaskBackend) -> None:
    tokenizer = glm_renderer.tokenizer

    class Lowercasing(type(tokenizer)):
        def _encode_plus(self, text: Any, *args: Any, **kwargs: Any) -> Any:
            return super()._encode_plus(text.lower(), *args, **kwargs)

    subclassed = Lowercasing.__new__(Lowercasing)
    subclassed.__dict__.update(tokenizer.__dict__)
    assert direct_tokenizer(subclassed) is subclassed


def test_one_differing_answer_turns_the_direct_path_off(glm_renderer: MaskBackend) -> None:
    tokenizer = glm_renderer.tokenizer
    direct = DirectTokenizer(tokenizer)

    class Wrong:
        truncation = None
        padding = None
        encode_special_tokens = False

        def encode(self, text: str, add_special_tokens: bool) -> Any:
            return tokenizer._tokenizer.encode(
                text + " extra", add_special_tokens=add_special_tokens
            )

    direct._rust = Wrong()
    assert direct.encode("hello", add_special_tokens=False) == tokenizer.encode(
        "hello", add_special_tokens=False
    )
    assert not direct.enabled
    for _ in range(CHECKED_CALLS + 1):  # off for good: every later call is transformers'
        assert direct.encode("hi", add_special_tokens=False) == tokenizer.encode(
            "hi", add_special_tokens=False
        )
