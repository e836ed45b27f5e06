"""`"sampled"` on the real published chat templates of tool-calling families (docs/masks.md table).

    python bench/template_families.py            # check every family, rewrite the table
    python bench/template_families.py --check    # exit 1 if docs/masks.md's table differs

The templates are data (`tests/masks/real_templates/`, each with its provenance); each family runs
on a tiny tokenizer carrying its special tokens and a `generation_config.json` with the real model's
serving stops, over the same seeded conversations. The reference is computed here, not by the
engine: the template's own prefix renders (`apply_chat_template(messages[:i],
add_generation_prompt=True)`) where they are a prefix of the full render, and otherwise the family's
`turn_start` pattern, written by reading the template and checked against the prefix renders on
every turn where both apply; then every token up to and including the first serving stop. A turn
whose stop comes only after the next message's text is *unclosed*: the engine must train from the
same first token, never a stop, and nothing of the next message. Each conversation comes out
exact, refused with a stated reason, or rejected by the template itself; anything else (a silent
difference) is a failure of the check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "masks" / "real_templates"
DOC_PATH = ROOT / "docs" / "masks.md"
COMMAND = "python bench/template_families.py"
BEGIN = "<!-- template-families:begin -->"
END = "<!-- template-families:end -->"


@dataclass(frozen=True)
class Family:
    name: str
    template: str
    model: str
    source: str
    tools: bool
    eos: str
    specials: tuple[str, ...]
    serving_stops: tuple[str, ...]
    turn_start: str
    bos: str | None = None
    arguments: str = "object"
    note: str = ""

    def template_text(self) -> str:
        return (DATA / "templates" / self.template).read_text(encoding="utf-8")


def load_families() -> list[Family]:
    raw = json.loads((DATA / "families.json").read_text(encoding="utf-8"))
    return [
        Family(**{**entry, "specials": tuple(entry["specials"]),
                  "serving_stops": tuple(entry["serving_stops"])})
        for entry in raw
    ]  # fmt: skip


def build_tokenizer(family: Family) -> Any:
    """A tiny byte-level BPE with the family's special tokens and its real template."""
    from lossmask.masks.assets.embedded import build_tiny_tokenizer

    specials = tuple(dict.fromkeys([*family.specials, *filter(None, [family.bos, family.eos])]))
    tokenizer = build_tiny_tokenizer(
        specials, family.name, family.template_text(), eos_token=family.eos
    )
    if family.bos:
        tokenizer.bos_token = family.bos
    return tokenizer


def save_tokenizer(family: Family, directory: Path) -> Path:
    """The family's tokenizer directory, with a generation_config.json of its serving stops."""
    tokenizer = build_tokenizer(family)
    tokenizer.save_pretrained(directory)
    stops = tokenizer.convert_tokens_to_ids(list(family.serving_stops))
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": stops}))
    return directory


def nine_character_ids(conversation: dict[str, Any]) -> dict[str, Any]:
    """Mistral templates require tool-call ids of 9 alphanumeric characters."""
    for message in conversation["messages"]:
        for call in message.get("tool_calls") or []:
            call["id"] = "call" + call["id"].removeprefix("call_").rjust(5, "0")
        if message.get("tool_call_id"):
            message["tool_call_id"] = "call" + message["tool_call_id"].removeprefix("call_").rjust(
                5, "0"
            )
    return conversation


PLAIN_CHATS: list[dict[str, Any]] = [
    {"messages": [
        {"role": "system", "content": "You answer in one short sentence."},
        {"role": "user", "content": "What is the capital of Norway?"},
        {"role": "assistant", "content": "Oslo."},
        {"role": "user", "content": "And of Sweden?"},
        {"role": "assistant", "content": "Stockholm."},
    ]},
    {"messages": [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Once more."},
        {"role": "assistant", "content": "Hello again!"},
    ]},
]  # fmt: skip
"""A system prompt and two user turns (the Mistral and gpt-oss case of the issue), and none."""


def conversations(family: Family) -> list[dict[str, Any]]:
    from lossmask.masks.assets.synthetic import generate_conversations

    tool_chats = [
        *generate_conversations(6, seed=21, exchanges=1, reasoning_rate=0.5),
        *generate_conversations(6, seed=22, exchanges=2, reasoning_rate=0.5),
    ]
    chats = [nine_character_ids(c) for c in tool_chats] if family.tools else []
    return [*chats, *json.loads(json.dumps(PLAIN_CHATS))]


@dataclass
class Reference:
    """(ids, mask) before the shift; `unclosed` maps a turn's first sampled character to where the
    next message's text starts; `undefined` says why no reference exists."""

    ids: list[int] = field(default_factory=list)
    mask: list[bool] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    unclosed: list[tuple[int, int]] = field(default_factory=list)
    undefined: str | None = None
    raised: str | None = None


class PatternBroken(AssertionError):
    """A family's `turn_start` disagrees with the template's own prefix render."""


def template_messages(family: Family, conversation: dict[str, Any]) -> Any:
    from lossmask.masks.engine.conversation import normalise_conversation

    messages, tools, _ = normalise_conversation(conversation)
    if family.arguments == "string":
        for message in messages:
            for call in message.get("tool_calls") or []:
                arguments = call["function"]["arguments"]
                call["function"]["arguments"] = getattr(arguments, "source", json.dumps(arguments))
    return messages, tools


def reference(family: Family, tokenizer: Any, conversation: dict[str, Any]) -> Reference:
    messages, tools = template_messages(family, conversation)

    def render(prefix: list[dict[str, Any]], prompt: bool = False) -> str:
        return str(
            tokenizer.apply_chat_template(
                prefix, tools=tools, tokenize=False, add_generation_prompt=prompt
            )
        )

    try:
        full = render(messages)
    except Exception as error:  # the template itself refuses the conversation
        return Reference(raised=str(error))
    encoded = tokenizer._tokenizer.encode(full, add_special_tokens=False)
    ids, starts = list(encoded.ids), [a for a, _ in encoded.offsets]
    stops = set(tokenizer.convert_tokens_to_ids(list(family.serving_stops)))
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    matches = list(re.finditer(family.turn_start, full, re.DOTALL))
    if len(matches) != len(assistants):
        return Reference(ids, undefined=f"{len(matches)} turn starts for {len(assistants)} turns")
    begins = [m.end("prompt") if "prompt" in m.groupdict() else m.end() for m in matches]
    for i, begin in zip(assistants, begins, strict=True):
        try:
            prompt = render(messages[:i], prompt=True)
        except Exception:
            continue
        if full.startswith(prompt) and begin != len(prompt):
            raise PatternBroken(
                f"{family.name}: turn_start ends at {begin}, prompt at {len(prompt)}"
            )
    mask = [False] * len(ids)
    result = Reference(ids, mask, starts)
    closed_last = messages[-1]["role"] != "assistant"
    for n, (i, begin) in enumerate(zip(assistants, begins, strict=True)):
        if begin not in starts and begin != len(full):
            return Reference(ids, undefined="a turn starts inside a token")
        after = messages[i + 1] if i + 1 < len(messages) else None
        body = after.get("content") if after else None
        limit = begins[n + 1] if n + 1 < len(begins) else len(full)
        if isinstance(body, str) and body:
            found = full.find(body, begin)
            limit = min(limit, found) if found >= 0 else limit
        k = next((k for k, s in enumerate(starts) if s >= begin), len(ids))
        run = []
        while k < len(ids) and starts[k] < limit:
            run.append(k)
            if ids[k] in stops:
                break
            k += 1
        if run and ids[run[-1]] in stops:
            for k in run:
                mask[k] = True
            closed_last = closed_last or i == len(messages) - 1
        elif i == len(messages) - 1:
            for k in run:
                mask[k] = True
        else:
            result.unclosed.append((begin, limit))
    if not closed_last:
        eos = tokenizer.eos_token_id
        ids.append(
            eos if eos in stops else tokenizer.convert_tokens_to_ids(family.serving_stops[0])
        )
        mask.append(True)
    return result


def compare(ref: Reference, ids: list[int], mask: list[bool], stops: set[int]) -> str | None:
    """None when the engine's (ids, mask) is the reference; else what differs."""
    if ids != ref.ids:
        return "token ids differ"
    inside = [False] * len(ids)
    for begin, limit in ref.unclosed:
        positions = [k for k, s in enumerate(ref.starts) if begin <= s < limit]
        trained = [k for k in positions if mask[k]]
        if not trained or trained[0] != positions[0] or trained != positions[: len(trained)]:
            return f"unclosed turn at character {begin} not trained from its first token on"
        if any(ids[k] in stops for k in trained):
            return f"unclosed turn at character {begin} trains a stop"
        for k in positions:
            inside[k] = True
    for k, (got, want) in enumerate(zip(mask, ref.mask, strict=True)):
        if not inside[k] and got != want:
            return f"token {k} ({'trained' if got else 'untrained'}) differs"
    return None


@dataclass
class FamilyResult:
    family: Family
    conversations: int = 0
    exact: int = 0
    exact_tool_chats: int = 0  # exact conversations with tool calls
    refused: Counter[str] = field(default_factory=Counter)
    refused_defined: int = 0  # refused although the reference is defined
    template_rejects: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # silent differences: must stay empty
    unclosed_turns: int = 0
    missing_prompt: Counter[str] = field(default_factory=Counter)
    arguments: str = ""


def check_family(family: Family, workdir: Path) -> FamilyResult:
    from lossmask.masks.engine.backends import load_backend
    from lossmask.masks.engine.build import mask_conversation
    from lossmask.masks.engine.sample import MaskError
    from lossmask.masks.engine.template_backend import TemplateRaised

    directory = save_tokenizer(family, workdir / family.name)
    backend = load_backend(tokenizer=str(directory))
    tokenizer = backend.tokenizer
    stops = set(backend.stop_token_ids())
    result = FamilyResult(family, arguments=backend.tool_arguments.form)  # type: ignore[attr-defined]
    for number, conversation in enumerate(conversations(family)):
        result.conversations += 1
        ref = reference(family, tokenizer, conversation)
        try:
            sequence = mask_conversation(conversation, "sampled", backend)
        except TemplateRaised as error:
            if ref.raised is None:
                result.failures.append(f"#{number}: engine: {error}; the reference renders")
            result.template_rejects[_short(ref.raised or str(error))] += 1
            continue
        except MaskError as error:
            if ref.raised is not None:
                result.template_rejects[_short(ref.raised)] += 1
                continue
            result.refused[getattr(error, "reason", _short(str(error)))] += 1
            result.refused_defined += ref.undefined is None
            continue
        if ref.raised is not None or ref.undefined is not None:
            why = ref.raised or ref.undefined
            result.failures.append(f"#{number}: engine answered, no reference ({why})")
            continue
        difference = compare(ref, sequence.ids, sequence.mask, stops)
        if difference is not None:
            result.failures.append(f"#{number}: {difference}")
            continue
        result.exact += 1
        result.exact_tool_chats += any(m.get("tool_calls") for m in conversation["messages"])
        result.unclosed_turns += len(ref.unclosed)
        result.missing_prompt.update(sequence.missing_prompt)
    return result


def _short(message: str) -> str:
    text = re.sub(r"^messages\[\d+\]: ", "", message.strip())
    text = text.removeprefix("the chat template raised an error: ")
    return text if len(text) <= 70 else text[:67] + "..."


def check_all() -> list[FamilyResult]:
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        return [check_family(family, Path(workdir)) for family in load_families()]


def _code(text: str) -> str:
    shown = json.dumps(text, ensure_ascii=False)[1:-1].replace("|", "\\|")
    return f"`{shown}`"


def render_table(results: list[FamilyResult]) -> str:
    tool_families = sum(r.family.tools for r in results)
    lines = [
        BEGIN,
        f"Generated by `{COMMAND}` (checked by `{COMMAND} --check` and by the test suite): "
        f"{len(results)} published templates, {tool_families} of them tool-calling, each over "
        f"{len(conversations(results[0].family))} conversations for tool-calling templates "
        f"(12 seeded tool chats with 1-3 parallel calls, reasoning in half the tool turns, a "
        f"system prompt in half, one or two exchanges; and {len(PLAIN_CHATS)} plain chats). "
        "**exact**: the mask equals the reference token for token; **refused**: a row error with "
        "its reason; **template**: the template itself raises. No conversation may come out "
        "different from the reference.",
        "",
        "| family | template | exact | refused (reason) | template raises | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r.family
        refused = "; ".join(f"{n}: {reason}" for reason, n in sorted(r.refused.items())) or "0"
        rejects = "; ".join(f"{n}: {_code(why)}" for why, n in sorted(r.template_rejects.items()))
        notes = []
        if r.unclosed_turns:
            notes.append(f"{r.unclosed_turns} turns closed by a token that is not a serving stop")
        if r.missing_prompt:
            tails = ", ".join(_code(t) for t in sorted(r.missing_prompt))
            n = sum(r.missing_prompt.values())
            notes.append(f"{n} turns' training text lacks part of the prompt: {tails}")
        if r.arguments == "string":
            notes.append("tool-call arguments passed as JSON strings (detected)")
        if f.note:
            notes.append(f.note)
        if r.failures:
            notes.append(f"**{len(r.failures)} silent differences**")
        lines.append(
            f"| {f.name} | {f.source}: `{f.template}` ({f.model}) | {r.exact}/{r.conversations} "
            f"({r.exact_tool_chats} with tool calls) "
            f"| {refused} | {rejects or '0'} | {'; '.join(notes)} |"
        )
    lines.append(END)
    return "\n".join(lines)


def updated_doc(table: str) -> str:
    text = DOC_PATH.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC_PATH}: no {BEGIN} ... {END} section to fill")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + table + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    options = parser.parse_args(argv)
    results = check_all()
    for r in results:
        for failure in r.failures:
            print(f"{r.family.name}: {failure}", file=sys.stderr)
    text = updated_doc(render_table(results))
    if options.check:
        if DOC_PATH.read_text(encoding="utf-8") != text:
            print(f"the family table in {DOC_PATH.name} is stale; run `{COMMAND}`", file=sys.stderr)
            return 1
        return 1 if any(r.failures for r in results) else 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
