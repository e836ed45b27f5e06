"""A seeded generator of small tool-calling conversations, and writing them as JSONL.

The default shape (`generate_conversations`): an optional system prompt, one user question naming
one to three cities, one assistant turn with that many `get_weather` calls (most turns make one
call, some two or three), one tool message per call, and a final answer. `exchanges` and
`reasoning_rate` make longer, richer conversations for parity tests and benchmarks. That shape is
kept as it is (tests and the bundled `examples/data/weather-tools.jsonl` pin it).

`generate_agent_conversations` is the experiment's shape (`[data] name =
"synthetic:weather-agent"`, no tool schemas in the prompt; `"synthetic:weather-agent-tools"` with
them): questions whose wording does not give the number of calls away (one
template fits any number of cities), arguments that must be read from the request (the cities,
and the unit when one is asked for), and multi-step conversations where a call's argument comes
from an observation (`get_location` -> observation -> `get_weather` -> answer).

Pure Python and seeded with `random.Random(seed)`: the same arguments give the same conversations
on every machine, which is what lets `examples/data/weather-tools.jsonl` be checked against the
generator.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
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


# --- The experiment's shape: counts not given away by the wording, arguments from the request ---

UNITS: dict[str, tuple[str, ...]] = {
    # unit argument -> how a request asks for it
    "celsius": ("in Celsius", "in °C"),
    "fahrenheit": ("in Fahrenheit", "in °F"),
}
UNIT_SENTENCES: tuple[str, ...] = ("Please answer {0}.", "Give me the temperature {0}.")
# Each template fits one, two or three cities: the count is in the list, not in the wording.
AGENT_QUESTIONS: tuple[str, ...] = (
    "What is the weather in {0}?",
    "How warm is it in {0} right now?",
    "Tell me the weather for {0}.",
    "Can you check the weather in {0}?",
    "What's it like in {0} today?",
)
LOCATION_QUESTIONS: tuple[str, ...] = (
    "What is the weather where I am?",
    "How warm is it here right now?",
    "What's the weather like at my location today?",
)
GET_WEATHER_UNIT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": list(UNITS)},
            },
            "required": ["city"],
        },
    },
}
GET_LOCATION_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_location",
        "description": "Get the city the user is in.",
        "parameters": {"type": "object", "properties": {}},
    },
}
AGENT_TOOLS: list[dict[str, Any]] = [GET_WEATHER_UNIT_TOOL, GET_LOCATION_TOOL]
AGENT_CALL_COUNT_WEIGHTS: dict[int, int] = {1: 50, 2: 30, 3: 20}


def _places(cities: list[str]) -> str:
    """ "Oslo", "Oslo and Rome", "Oslo, Rome and Lima"."""
    if len(cities) == 1:
        return cities[0]
    return ", ".join(cities[:-1]) + " and " + cities[-1]


# Tool messages and arguments are written as UTF-8 JSON (`ensure_ascii=False`), as tools return
# them: "São Paulo" in an observation is the same text the next call must write.
def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def _weather_report(rng: random.Random, city: str, unit: str | None) -> dict[str, Any]:
    celsius = rng.randint(-5, 34)
    if unit == "fahrenheit":
        return {"city": city, "temperature": round(celsius * 9 / 5 + 32), "unit": "fahrenheit",
                "condition": rng.choice(CONDITIONS)}  # fmt: skip
    return {"city": city, "temperature": celsius, "unit": "celsius",
            "condition": rng.choice(CONDITIONS)}  # fmt: skip


def _answer(reports: list[dict[str, Any]]) -> str:
    sign = {"celsius": "°C", "fahrenheit": "°F"}
    return " ".join(
        f"In {r['city']} it is {r['temperature']}{sign[r['unit']]} and {r['condition']}."
        for r in reports
    )


def _weather_calls(
    rng: random.Random, cities: list[str], unit: str | None, first_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One assistant turn calling get_weather per city, its tool messages, and the reports."""
    calls, tool_messages, reports = [], [], []
    for position, city in enumerate(cities):
        call_id = f"call_{first_id + position}"
        arguments = {"city": city} if unit is None else {"city": city, "unit": unit}
        calls.append(_call(call_id, "get_weather", arguments))
        report = _weather_report(rng, city, unit)
        reports.append(report)
        tool_messages.append(
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": json.dumps(report, ensure_ascii=False),
            }
        )
    turn = {"role": "assistant", "content": "", "tool_calls": calls}
    return turn, tool_messages, reports


def _with_unit(rng: random.Random, question: str, unit: str | None) -> str:
    if unit is None:
        return question
    return question + " " + rng.choice(UNIT_SENTENCES).format(rng.choice(UNITS[unit]))


def generate_agent_conversations(
    n: int,
    seed: int = 0,
    *,
    multi_step_rate: float = 0.25,
    system_rate: float = 0.5,
    tool_schemas: bool = False,
) -> list[Conversation]:
    """`n` conversations, each `{"messages": [...]}` (plus `"tools": [get_weather, get_location]`
    with `tool_schemas=True`).

    Single-step (1 - `multi_step_rate`): one question naming one to three cities (50/30/20%) in a
    template that fits any count, with a unit asked for in half of them; one assistant turn with a
    `get_weather` call per city (`city`, and `unit` only when the question asks for one), the tool
    results and the answer. Multi-step (`multi_step_rate`): a question about "where I am"; the
    assistant calls `get_location`, reads the city from the observation, calls `get_weather` with
    it, then answers: call -> observation -> call -> answer.

    Tool schemas are left out by default: with them the GLM-4.5 template renders a ~280-token tool
    preamble into every sample (three times the rest of it), which triples a CPU training step,
    while what the experiment measures (stopping, counting, reading arguments from the request)
    does not depend on them. `tool_schemas=True` adds them, as real tool-calling data has them.
    """
    rng = random.Random(seed)
    counts = list(AGENT_CALL_COUNT_WEIGHTS)
    weights = [AGENT_CALL_COUNT_WEIGHTS[c] for c in counts]
    conversations = []
    for _ in range(n):
        messages: list[dict[str, Any]] = []
        if rng.random() < system_rate:
            messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
        unit = rng.choice([None, None, *UNITS])
        if rng.random() < multi_step_rate:
            city = rng.choice(CITIES)
            question = _with_unit(rng, rng.choice(LOCATION_QUESTIONS), unit)
            locate = {
                "role": "assistant",
                "content": "",
                "tool_calls": [_call("call_0", "get_location", {})],
            }
            located = {
                "role": "tool",
                "tool_call_id": "call_0",
                "content": json.dumps({"city": city}, ensure_ascii=False),
            }
            turn, tool_messages, reports = _weather_calls(rng, [city], unit, first_id=1)
            messages += [{"role": "user", "content": question}, locate, located, turn]
        else:
            cities = rng.sample(CITIES, rng.choices(counts, weights=weights)[0])
            question = _with_unit(rng, rng.choice(AGENT_QUESTIONS).format(_places(cities)), unit)
            turn, tool_messages, reports = _weather_calls(rng, cities, unit, first_id=0)
            messages += [{"role": "user", "content": question}, turn]
        messages += tool_messages
        messages.append({"role": "assistant", "content": _answer(reports)})
        conversation: Conversation = {"messages": messages}
        if tool_schemas:
            conversation["tools"] = AGENT_TOOLS
        conversations.append(conversation)
    return conversations


SYNTHETIC_SOURCES: dict[str, Callable[[int, int], list[Conversation]]] = {
    # `[data] name` -> (count, seed) -> conversations; "synthetic:weather" is what no name means.
    "synthetic:weather": lambda n, seed: generate_conversations(n, seed=seed),
    "synthetic:weather-agent": lambda n, seed: generate_agent_conversations(n, seed=seed),
    "synthetic:weather-agent-tools": lambda n, seed: generate_agent_conversations(
        n, seed=seed, tool_schemas=True
    ),
}
