"""Exact supervised token ids on one hand-checked conversation, for every (mode x path) cell.

Expected targets are written out by hand as text pieces that each tokenize on their own (they
split at special tokens or newlines, as the embedded tokenizers guarantee), so the expectation does
not come from the engine under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from lossmask.masks import MaskBackend, build_sample, load_backend
from lossmask.masks.engine.template_backend import ChatTemplateBackend
from lossmask.schema.roles import LossMaskRolesConfig

LEGACY = LossMaskRolesConfig()
CALL = {
    "id": "c0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
}
CONVERSATION: dict[str, Any] = {
    "messages": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c0", "content": '{"t": 3}'},
        {"role": "assistant", "content": "Cold."},
    ]
}

GLM_PREFIX = ["[gMASK]", "<sop>", "<|user|>", "\nWeather in Oslo?"]
GLM_ASSISTANT_OPEN = ["<|assistant|>", "\n"]
GLM_CALL_TURN = [
    "<think></think>",
    "\n",
    "<tool_call>",
    "get_weather\n",
    "<arg_key>",
    "city",
    "</arg_key>",
    "\n",
    "<arg_value>",
    "Oslo",
    "</arg_value>",
    "\n",
    "</tool_call>",
]
GLM_TOOL = ["<|observation|>", '\n<tool_response>\n{"t": 3}\n</tool_response>']
GLM_FINAL_TURN = ["<think></think>", "\nCold."]
GLM_STOP = ["<|endoftext|>"]
# Served from the prompt `...<|assistant|>`, the model writes the `\n` itself, so it trains.
GLM_SAMPLED = ["\n", *GLM_CALL_TURN, "<|observation|>", "\n", *GLM_FINAL_TURN, *GLM_STOP]
GLM_LEGACY_TEMPLATE = [
    *GLM_ASSISTANT_OPEN,
    *GLM_CALL_TURN,
    *GLM_ASSISTANT_OPEN,
    *GLM_FINAL_TURN,
    *GLM_STOP,
]
GLM_ALL = [
    *GLM_PREFIX,
    *GLM_ASSISTANT_OPEN,
    *GLM_CALL_TURN,
    *GLM_TOOL,
    *GLM_ASSISTANT_OPEN,
    *GLM_FINAL_TURN,
    *GLM_STOP,
]

QWEN_USER = ["<|im_start|>", "user\nWeather in Oslo?", "<|im_end|>", "\n"]
QWEN_ASSISTANT_OPEN = ["<|im_start|>", "assistant\n"]
QWEN_CALL_TURN = [
    "<tool_call>",
    '\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n',
    "</tool_call>",
    "<|im_end|>",
]
QWEN_TOOL = [
    "<|im_start|>",
    "user",
    "\n",
    "<tool_response>",
    '\n{"t": 3}\n',
    "</tool_response>",
    "<|im_end|>",
    "\n",
]
QWEN_FINAL_TURN = ["<think>", "\n\n", "</think>", "\n\nCold.", "<|im_end|>"]
QWEN_SAMPLED = [*QWEN_CALL_TURN, *QWEN_FINAL_TURN]
QWEN_LEGACY = [
    *QWEN_ASSISTANT_OPEN,
    *QWEN_CALL_TURN,
    "\n",
    *QWEN_ASSISTANT_OPEN,
    *QWEN_FINAL_TURN,
    "\n",
]
QWEN_ALL = [
    *QWEN_USER,
    *QWEN_ASSISTANT_OPEN,
    *QWEN_CALL_TURN,
    "\n",
    *QWEN_TOOL,
    *QWEN_ASSISTANT_OPEN,
    *QWEN_FINAL_TURN,
    "\n",
]


def ids_of(backend: MaskBackend, pieces: list[str]) -> list[int]:
    ids: list[int] = []
    for piece in pieces:
        ids += backend.tokenizer.encode(piece, add_special_tokens=False)
    return ids


def trained(backend: MaskBackend, mode: Any) -> list[int]:
    sample = build_sample(CONVERSATION, mode, backend)
    return [t for t, m in zip(sample.target_ids, sample.loss_mask, strict=True) if m]


@pytest.fixture(scope="module")
def glm_plain_template() -> MaskBackend:
    """The GLM template without `{% generation %}` blocks, like the hub's, with GLM's serving
    stops (generation_config.json eos_token_id: <|endoftext|>, <|user|>, <|observation|>)."""
    backend = load_backend(tokenizer="embedded:glm-4.5-notags")
    assert isinstance(backend, ChatTemplateBackend) and not backend.has_generation_markers
    return backend


@pytest.mark.parametrize(
    ("backend_name", "mode", "expected"),
    [
        ("glm_renderer", "sampled", GLM_SAMPLED),
        # renderers 0.1.12 attributes the closing <|observation|> to the assistant it closes.
        ("glm_renderer", LEGACY, GLM_SAMPLED),
        ("glm_renderer", "all", GLM_ALL[1:]),
        ("glm_template", "sampled", GLM_SAMPLED),
        ("glm_template", LEGACY, GLM_LEGACY_TEMPLATE),
        ("glm_template", "all", GLM_ALL[1:]),
        # Without tags, "sampled" is derived from serving: the same tokens.
        ("glm_plain_template", "sampled", GLM_SAMPLED),
        ("qwen_renderer", "sampled", QWEN_SAMPLED),
        ("qwen_renderer", LEGACY, QWEN_SAMPLED),
        ("qwen_renderer", "all", QWEN_ALL[1:]),
        ("qwen_template", "sampled", QWEN_SAMPLED),
        ("qwen_template", LEGACY, QWEN_LEGACY),
        ("qwen_template", "all", QWEN_ALL[1:]),
    ],
    ids=lambda v: v if isinstance(v, str) else ("legacy" if v is LEGACY else None),
)
def test_exact_trained_targets(
    request: pytest.FixtureRequest, backend_name: str, mode: Any, expected: list[str]
) -> None:
    backend = request.getfixturevalue(backend_name)
    assert trained(backend, mode) == ids_of(backend, expected)


@pytest.mark.parametrize(
    "backend_name", ["glm_renderer", "glm_template", "qwen_renderer", "qwen_template"]
)
def test_role_table_that_trains_only_tool_messages(
    request: pytest.FixtureRequest, backend_name: str
) -> None:
    backend = request.getfixturevalue(backend_name)
    tool_only = LossMaskRolesConfig(assistant=False, tool=True)
    expected = {
        # A renderer never marks tool results as sampled: nothing trains.
        "glm_renderer": [],
        "qwen_renderer": [],
        # The role filter trains the whole tool message, opener included.
        "glm_template": GLM_TOOL,
        "qwen_template": QWEN_TOOL,
    }[backend_name]
    assert trained(backend, tool_only) == ids_of(backend, expected)


def test_all_is_every_target_of_the_full_render(glm_renderer: MaskBackend) -> None:
    sample = build_sample(CONVERSATION, "all", glm_renderer)
    assert sample.target_ids == ids_of(glm_renderer, GLM_ALL)[1:]
    assert sample.input_ids == ids_of(glm_renderer, GLM_ALL)[:-1]
    assert all(sample.loss_mask)


def test_the_shift_aligns_mask_to_the_predicted_token(glm_renderer: MaskBackend) -> None:
    sample = build_sample(CONVERSATION, "sampled", glm_renderer)
    first = sample.loss_mask.index(True)
    # The first trained target is the `\n` predicted from `<|assistant|>`, where serving's
    # generation prompt ends (the renderer does not mark it sampled: rule serving-prompt).
    assert glm_renderer.tokenizer.decode([sample.target_ids[first]]) == "\n"
    assert sample.input_ids[first] == glm_renderer.tokenizer.convert_tokens_to_ids("<|assistant|>")
    assert sample.provenance[first].rule == "serving-prompt"
    assert sample.provenance[first + 1].rule == "sampled"
    assert sample.provenance[first].message_index == 1
    assert sample.provenance[-1].rule == "final-stop"
    assert sample.provenance[-1].message_index is None


def test_embedded_backend_follows_the_renderer_family() -> None:
    backend = load_backend(renderer="qwen3")
    assert backend.tokenizer.name_or_path == "embedded:qwen3"
    assert backend.name == "renderer:qwen3"
