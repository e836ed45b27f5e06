"""A seeded generator of small tool-calling conversations, and writing them as JSONL.

The default shape is the stop experiment's (docs/training.md): an optional system prompt, one user
question naming one to three cities, one assistant turn with that many `get_weather` calls (most
turns make one call, some two or three), one tool message per call, and a final answer.
`exchanges` and `reasoning_rate` make longer, richer conversations for parity tests and benchmarks.

Pure Python and seeded with `random.Random(seed)`: the same arguments give the same conversations
on every machine, which is what lets `examples/data/weather-tools.jsonl` be checked against the
generator.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Conversation = dict[str, Any]

CITIES: tuple[str, ...] = (
    "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Warsaw", "Oslo",
    "Stockholm", "Helsinki", "Dublin", "Athens", "Budapest", "Zurich", "Amsterdam", "Brussels",
    "Copenhagen", "Tokyo", "Seoul", "Nairobi", "Lima", "Toronto", "Sydney", "Cairo", "Mumbai",
    "Santiago", "Reykjavik", "Montreal", "São Paulo",
)  # fmt: skip
CONDITIONS: tuple[str, ...] = ("sunny", "cloudy", "rainy", "windy", "foggy", "snowy")
SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a helpful weather assistant. Use the tools when you need live data.",
    "You answer questions about the weather. Call get_weather once per city.",
)
QUESTION_TEMPLATES: dict[int, tuple[str, ...]] = {
    1: ("What is the weather in {0}?", "How warm is it in {0} right now?"),
    2: ("Compare the weather in {0} and {1}.", "What's it like in {0} and in {1} today?"),
    3: ("What is the weather in {0}, {1} and {2}?", "Is it warmer in {0}, {1} or {2}?"),
}
REASONINGS: tuple[str, ...] = (
    "The user wants current conditions, so I need one get_weather call per city.",
    "I should look up each city with the tool before answering.",
)

GET_WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}

# Most assistant tool turns make one call; some make two or three (the parallel calls that teach a
# model what comes after `</tool_call>`).
CALL_COUNT_WEIGHTS: dict[int, int] = {1: 70, 2: 20, 3: 10}


def _call_count(rng: random.Random) -> int:
    counts = list(CALL_COUNT_WEIGHTS)
    return rng.choices(counts, weights=[CALL_COUNT_WEIGHTS[c] for c in counts])[0]


def _exchange(
    rng: random.Random, call_offset: int, reasoning: bool
) -> tuple[list[dict[str, Any]], int]:
    """One user question, the assistant's tool calls, the tool results and the final answer."""
    count = _call_count(rng)
    cities = rng.sample(CITIES, count)
    question = rng.choice(QUESTION_TEMPLATES[count]).format(*cities)
    calls = []
    results = []
    for position, city in enumerate(cities):
        call_id = f"call_{call_offset + position}"
        calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
            }
        )
        weather = {
            "city": city,
            "temperature_c": rng.randint(-5, 34),
            "condition": rng.choice(CONDITIONS),
        }
        results.append((call_id, weather))
    tool_turn: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": calls}
    if reasoning:
        tool_turn["reasoning_content"] = rng.choice(REASONINGS)
    answer = " ".join(
        f"In {w['city']} it is {w['temperature_c']}°C and {w['condition']}." for _, w in results
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}, tool_turn]
    messages += [
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(weather)}
        for call_id, weather in results
    ]
    messages.append({"role": "assistant", "content": answer})
    return messages, call_offset + count


def generate_conversations(
    n: int,
    seed: int = 0,
    *,
    exchanges: int = 1,
    reasoning_rate: float = 0.0,
    system_rate: float = 0.5,
) -> list[Conversation]:
    """`n` conversations, each `{"messages": [...], "tools": [get_weather]}`, from one seed.

    `exchanges` user questions per conversation (each answered by a tool turn and a final answer);
    `reasoning_rate` is the chance a tool turn carries `reasoning_content`.
    """
    rng = random.Random(seed)
    conversations = []
    for _ in range(n):
        messages: list[dict[str, Any]] = []
        if rng.random() < system_rate:
            messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
        call_offset = 0
        for _ in range(exchanges):
            turn, call_offset = _exchange(rng, call_offset, rng.random() < reasoning_rate)
            messages += turn
        conversations.append({"messages": messages, "tools": [GET_WEATHER_TOOL]})
    return conversations


def write_jsonl(conversations: Iterable[Conversation], path: str | Path) -> None:
    """One conversation per line, UTF-8, keys in insertion order, `\\n` line endings."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for conversation in conversations:
            handle.write(json.dumps(conversation, ensure_ascii=False) + "\n")
