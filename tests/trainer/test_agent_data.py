"""The experiment's synthetic data (`synthetic:weather-agent`): a model must read the request.

Checked from the conversations themselves: the wording of a question does not give its number of
calls away, every argument is written in the request or in an earlier observation, and
multi-step conversations chain call -> observation -> call -> answer.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from lossmask.masks.assets.synthetic import (
    CITIES,
    SYNTHETIC_SOURCES,
    UNIT_SENTENCES,
    UNITS,
    generate_agent_conversations,
    generate_conversations,
)

POOL = generate_agent_conversations(600, seed=0)


def _template(question: str) -> str:
    """The question with its cities and its unit sentence taken out."""
    for sentence in UNIT_SENTENCES:
        for phrases in UNITS.values():
            for phrase in phrases:
                question = question.replace(" " + sentence.format(phrase), "")
    for city in sorted(CITIES, key=len, reverse=True):
        question = question.replace(city, "{city}")
    return re.sub(r"\{city\}(, \{city\})*( and \{city\})?", "{places}", question)


def test_seeded_and_the_default_generator_is_unchanged() -> None:
    assert generate_agent_conversations(20, seed=4) == generate_agent_conversations(20, seed=4)
    assert generate_agent_conversations(20, seed=4) != generate_agent_conversations(20, seed=5)
    # The older shape other tests and the bundled JSONL pin is still what the default name gives.
    assert SYNTHETIC_SOURCES["synthetic:weather"](5, 2) == generate_conversations(5, seed=2)
    agent = SYNTHETIC_SOURCES["synthetic:weather-agent"](5, 2)
    assert agent == generate_agent_conversations(5, seed=2)
    assert all(set(conversation) == {"messages"} for conversation in agent)
    # The same conversations with the tool schemas a real request carries.
    with_tools = SYNTHETIC_SOURCES["synthetic:weather-agent-tools"](5, 2)
    assert [c["messages"] for c in with_tools] == [c["messages"] for c in agent]
    names = [[tool["function"]["name"] for tool in c["tools"]] for c in with_tools]
    assert names == [["get_weather", "get_location"]] * 5


def test_call_counts_are_not_given_away_by_the_wording() -> None:
    counts: dict[str, set[int]] = defaultdict(set)
    for conversation in POOL:
        messages = conversation["messages"]
        user = next(m for m in messages if m["role"] == "user")
        first = next(m for m in messages if m["role"] == "assistant")
        if first["tool_calls"][0]["function"]["name"] == "get_weather":
            counts[_template(user["content"])].add(len(first["tool_calls"]))
    assert len(counts) == 5
    assert all(seen == {1, 2, 3} for seen in counts.values()), counts


def test_every_argument_is_in_the_request_or_an_earlier_observation() -> None:
    units = {"celsius": ("Celsius", "°C"), "fahrenheit": ("Fahrenheit", "°F")}
    asked_units = set()
    for conversation in POOL:
        seen = ""
        for message in conversation["messages"]:
            if message["role"] in ("user", "tool"):
                seen += message["content"]
            for call in message.get("tool_calls") or []:
                arguments = json.loads(call["function"]["arguments"])
                if "city" in arguments:
                    assert arguments["city"] in seen
                if "unit" in arguments:
                    asked_units.add(arguments["unit"])
                    assert any(word in seen for word in units[arguments["unit"]])
                elif call["function"]["name"] == "get_weather":
                    assert not any(w in seen for pair in units.values() for w in pair)
    assert asked_units == {"celsius", "fahrenheit"}


def test_multi_step_conversations_chain_call_observation_call_answer() -> None:
    chains = 0
    for conversation in POOL:
        roles = [
            (m["role"], [c["function"]["name"] for c in m.get("tool_calls") or []])
            for m in conversation["messages"]
            if m["role"] != "system"
        ]
        if roles[1][1] == ["get_location"]:
            chains += 1
            assert roles == [
                ("user", []),
                ("assistant", ["get_location"]),
                ("tool", []),
                ("assistant", ["get_weather"]),
                ("tool", []),
                ("assistant", []),
            ]
            located = json.loads(conversation["messages"][-4]["content"])["city"]
            called = json.loads(
                conversation["messages"][-3]["tool_calls"][0]["function"]["arguments"]
            )
            assert called["city"] == located
    assert 0.2 < chains / len(POOL) < 0.3  # multi_step_rate = 0.25
