"""The embedded tokenizers and the seeded generator: reproducible, and what they claim to be."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lossmask.errors import ConfigError
from lossmask.masks import generate_conversations, load_conversations, write_jsonl
from lossmask.masks.assets.embedded import (
    GLM45_SPECIAL_TOKENS,
    QWEN3_SPECIAL_TOKENS,
    glm45_tokenizer,
    qwen3_tokenizer,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "examples" / "data" / "weather-tools.jsonl"

VOCAB_DIGEST = """
import hashlib, json
from lossmask.masks.assets.embedded import glm45_tokenizer
vocab = sorted(glm45_tokenizer().get_vocab().items())
print(hashlib.sha256(json.dumps(vocab).encode()).hexdigest())
"""


def test_special_tokens_are_single_tokens() -> None:
    for tokenizer, specials in (
        (glm45_tokenizer(), GLM45_SPECIAL_TOKENS),
        (qwen3_tokenizer(), QWEN3_SPECIAL_TOKENS),
    ):
        for token in specials:
            assert tokenizer.encode(token, add_special_tokens=False) == [
                tokenizer.convert_tokens_to_ids(token)
            ]
    assert glm45_tokenizer().eos_token == "<|endoftext|>"
    assert qwen3_tokenizer().eos_token == "<|im_end|>"


def test_text_round_trips_byte_for_byte() -> None:
    text = 'Zürich: 21°C, "windy"\n\n  {"a": [1, 2]} 東京'
    ids = glm45_tokenizer().encode(text, add_special_tokens=False)
    assert glm45_tokenizer().decode(ids) == text


def test_tokenizer_is_identical_in_a_fresh_process() -> None:
    vocab = sorted(glm45_tokenizer().get_vocab().items())
    here = hashlib.sha256(json.dumps(vocab).encode()).hexdigest()
    there = subprocess.run(
        [sys.executable, "-c", VOCAB_DIGEST], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there


def test_generator_is_seeded_and_shaped_as_documented() -> None:
    conversations = generate_conversations(200, seed=4)
    assert conversations == generate_conversations(200, seed=4)
    assert conversations != generate_conversations(200, seed=5)
    calls = Counter()
    for conversation in conversations:
        messages = [m for m in conversation["messages"] if m["role"] != "system"]
        count = len(messages[1]["tool_calls"])
        roles = [m["role"] for m in messages]
        assert roles == ["user", "assistant", *["tool"] * count, "assistant"]
        assert conversation["tools"][0]["function"]["name"] == "get_weather"
        calls[count] += 1
    assert set(calls) == {1, 2, 3}
    assert calls[1] > calls[2] + calls[3]  # most turns make one call


def test_bundled_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    regenerated = tmp_path / "weather-tools.jsonl"
    write_jsonl(generate_conversations(64, seed=0), regenerated)
    assert BUNDLED.read_bytes() == regenerated.read_bytes()
    # Read back through lossmask.data, which parses JSON-string tool-call arguments into objects.
    from lossmask.data import normalize_row

    expected = [normalize_row(c) for c in generate_conversations(64, seed=0)]
    assert load_conversations(BUNDLED) == expected
    assert expected[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}


def test_read_conversations_names_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": []}\n\n{"messages": [}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_conversations(path)
    assert [problem.format() for problem in caught.value.problems] == [
        f"{path}:1: row 0: messages: is empty (a conversation needs at least one message)",
        f"{path}:3: row 1: invalid JSON: Expecting value (column 15) (each line must be one JSON "
        "object)",
    ]
    path.write_text('["not", "a", "conversation"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_conversations(path)
    assert [problem.format() for problem in caught.value.problems] == [
        f'{path}:1: row 0: expected a JSON object, not list (write {{"messages": [...]}} on each '
        "line)"
    ]
