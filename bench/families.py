"""Which renderer families a role mask over structural attribution hurts (docs/families.md).

    python bench/families.py            # measure every family, write docs/families.md
    python bench/families.py --check    # measure, exit 1 if docs/families.md differs

Every renderer that `renderers` registers runs, unmodified, on a tiny embedded tokenizer carrying
its family's special tokens (`lossmask.masks.assets.families`), over the same seeded synthetic
tool-calling conversations. What each column measures is written out in `COLUMN_NOTES` below,
which is also the text docs/families.md prints, so the description and the code cannot drift
apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub: a renderer that needs it must fail loudly
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lossmask.masks.assets.families import family_renderer, family_tokenizer, renderer_names
from lossmask.masks.assets.synthetic import generate_conversations

CONVERSATIONS = 40
SEED = 0
EXCHANGES = 2
REASONING_RATE = 0.5
DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "families.md"
COMMAND = "python bench/families.py"


def renderer_messages(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The generator's messages as trainers pass them to a renderer, reasoning kept where it shows.

    Tool-call arguments are parsed from JSON into objects. `reasoning_content` is dropped before
    the last user message: most families strip earlier reasoning from the render, which would make
    prefix renders differ from the full render for a reason that has nothing to do with masks.
    """
    raw = conversation["messages"]
    last_user = max(i for i, m in enumerate(raw) if m["role"] == "user")
    messages = []
    for index, message in enumerate(raw):
        message = dict(message)
        if index < last_user:
            message.pop("reasoning_content", None)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "function": {**call["function"],
                                      "arguments": json.loads(call["function"]["arguments"])}}
                for call in message["tool_calls"]
            ]  # fmt: skip
        messages.append(message)
    return messages


def structural_span(
    renderer: Any, messages: list[dict[str, Any]], tools: Any, ids: list[int], j: int, end: int
) -> set[int] | None:
    """Positions of `ids[:end]` that lie in assistant `j`'s structural span; None if undefined.

    The structural span is what a chat template gives message j: the block that rendering
    `messages[: j + 1]` adds after `messages[:j]`, j being the last message. The full render's
    tokens from there to `end` are aligned to that block (difflib, exact token matches), since
    some families render a last message slightly differently (Qwen3 adds an empty think block).
    Undefined when `messages[:j]` does not render as a prefix of the full render.
    """
    before = list(renderer.render_ids(messages[:j], tools=tools))
    with_j = list(renderer.render_ids(messages[: j + 1], tools=tools))
    if before != ids[: len(before)] or with_j[: len(before)] != before:
        return None
    matcher = SequenceMatcher(None, ids[len(before) : end], with_j[len(before) :], autojunk=False)
    inside: set[int] = set()
    for start, _, size in matcher.get_matching_blocks():
        inside.update(range(len(before) + start, len(before) + start + size))
    return inside


def show(tokenizer: Any, token_id: int) -> str:
    return json.dumps(tokenizer.decode([token_id]), ensure_ascii=False)[1:-1]


TURN_KINDS = ("tool call", "answer, then user", "last answer")
"""Assistant turns with tool calls; answers followed by a user message; the conversation's end."""


@dataclass
class Rate:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.total += 1

    def __str__(self) -> str:
        return (
            "n/a"
            if not self.total
            else f"{100 * self.hits / self.total:.0f}% ({self.hits}/{self.total})"
        )


@dataclass
class FamilyResult:
    name: str
    skipped: str | None = None
    rendered: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    structure_turns: int = 0
    structure_undefined: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    # Turn kind -> stop trained by the legacy role table / stop inside the structural span.
    legacy_stop: dict[str, Rate] = field(default_factory=lambda: {k: Rate() for k in TURN_KINDS})
    structural_stop: dict[str, Rate] = field(
        default_factory=lambda: {k: Rate() for k in TURN_KINDS}
    )
    last_stop_ensured: Rate = field(default_factory=Rate)
    turns: int = 0
    consistent_turns: int = 0
    gaps: Counter[str] = field(default_factory=Counter)
    prompt_mismatch: Counter[str] = field(default_factory=Counter)


def _common_prefix(a: list[int], b: list[int]) -> int:
    return next(
        (k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _turn_end(ids: list[int], start: int, limit: int, stops: set[int]) -> int | None:
    return next((k for k in range(start, limit) if ids[k] in stops), None)


def measure_conversation(
    renderer: Any, tokenizer: Any, messages: list[dict[str, Any]], tools: Any, out: FamilyResult
) -> None:
    from renderers import build_training_sample

    rendered = renderer.render(messages, tools=tools)
    ids = list(rendered.token_ids)
    sampled, owner = list(rendered.sampled_mask), list(rendered.message_indices)
    stops = set(renderer.get_stop_token_ids())
    assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]

    def legacy(ensure: bool) -> Any:
        return build_training_sample(
            renderer, messages, tools=tools, ensure_final_stop=ensure,
            role_to_mask=lambda m: m["role"] == "assistant",
        )  # fmt: skip

    legacy_mask = legacy(False).loss_mask
    ensured = legacy(True)
    sampled_trained = build_training_sample(renderer, messages, tools=tools).loss_mask
    prompts = [list(renderer.render_ids(messages[:i], tools=tools, add_generation_prompt=True))
               for i in assistant]  # fmt: skip
    for n, i in enumerate(assistant):
        prompt, is_last = prompts[n], n == len(assistant) - 1
        kind = TURN_KINDS[0] if messages[i].get("tool_calls") else TURN_KINDS[2 if is_last else 1]
        out.turns += 1
        start = _common_prefix(prompt, ids)
        limit = min(len(prompts[n + 1]), len(ids)) if not is_last else len(ids)
        end = _turn_end(ids, start, limit, stops)
        owned = [k for k in range(len(ids)) if owner[k] == i]
        region_end = max([*owned, end if end is not None else -1]) + 1

        out.legacy_stop[kind].add(end is not None and legacy_mask[end])
        if is_last:
            ensured_end = _turn_end(ensured.token_ids, start, len(ensured.token_ids), stops)
            out.last_stop_ensured.add(ensured_end is not None and ensured.loss_mask[ensured_end])

        inside = structural_span(renderer, messages, tools, ids, i, region_end)
        if inside is None:
            out.structure_undefined += 1
        else:
            out.structure_turns += 1
            out.structural_stop[kind].add(end is not None and end in inside)
            for k in owned:
                if sampled[k] and k not in inside:
                    out.dropped[show(tokenizer, ids[k])] += 1

        if start < len(prompt):
            mismatch = f"`{show(tokenizer, prompt[start])}` vs `{show(tokenizer, ids[start])}`"
            out.prompt_mismatch[mismatch] += 1
            continue
        out.consistent_turns += 1
        close = end if end is not None else (owned[-1] if owned else start - 1)
        for k in range(start, close + 1):
            if not sampled[k] and not sampled_trained[k]:
                out.gaps[show(tokenizer, ids[k])] += 1


def measure_family(name: str, conversations: list[dict[str, Any]]) -> FamilyResult:
    result = FamilyResult(name)
    try:
        renderer = family_renderer(name)
    except Exception as error:  # any failure to construct is the finding we report
        result.skipped = f"{type(error).__name__}: {error}".splitlines()[0]
        return result
    tokenizer = family_tokenizer(name)
    for conversation in conversations:
        messages = renderer_messages(conversation)
        try:
            renderer.render(messages, tools=conversation["tools"])
        except Exception as error:
            result.refused[f"{type(error).__name__}: {error}".splitlines()[0]] += 1
            continue
        result.rendered += 1
        measure_conversation(renderer, tokenizer, messages, conversation["tools"], result)
    if not result.rendered:
        result.skipped = "refused every conversation: " + "; ".join(result.refused)
    return result


def measure_all() -> list[FamilyResult]:
    conversations = generate_conversations(
        CONVERSATIONS, seed=SEED, exchanges=EXCHANGES, reasoning_rate=REASONING_RATE
    )
    return [measure_family(name, conversations) for name in renderer_names()]


def _tokens(counts: Counter[str], per: int) -> str:
    """`token` ×count-per-unit, most frequent first (`|` escaped for a markdown table)."""
    if not counts:
        return "none"
    return ", ".join(
        _escape(f"`{token}` ×{count / per:.2f}")
        for token, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


COLUMN_NOTES = f"""\
## How it was measured

Conversations: `generate_conversations({CONVERSATIONS}, seed={SEED}, exchanges={EXCHANGES},
reasoning_rate={REASONING_RATE})`
from `lossmask.masks.assets.synthetic`: each has an optional system prompt and {EXCHANGES} exchanges
of user question, assistant tool-call turn (1 to 3 parallel
`get_weather` calls), one tool message per call and an assistant answer turn. Tool-call arguments
are parsed from JSON; `reasoning_content` is kept only after the last user message (most families
strip earlier reasoning, which would change the render for reasons unrelated to masks). Each family
runs the real `renderers` renderer with its default config on the embedded tokenizer
`lossmask.masks.assets.families.family_tokenizer(name)` (byte-level BPE, 1024 ids, the family's
special tokens).

- **rendered**: conversations the renderer accepted, of {CONVERSATIONS}.
- **structural span**: for assistant message j, the block that `render(messages[:j+1])` adds
  after `render(messages[:j])`, i.e. what a chat template attributes to j (how incremental role
  masks are built). Tokens of the full render are matched to that block by exact-token alignment
  (difflib). A turn is *undefined* when `render(messages[:j])` is not a prefix of the full render;
  those turns are left out of the structural columns and counted.
- **(a) sampled outside own span**: tokens with `sampled_mask` true that the renderer attributes
  (`message_indices`) to assistant j but that are not in j's structural span, i.e. what a role
  mask over structural attribution does not train. Given as tokens per conversation, by token.
- **structural stop**: share of turns whose stop token (below) lies in the turn's own structural
  span, i.e. a role table over structural attribution would train it.
- **turn end / stop token**: for assistant message j, the first token at or after the end of
  `render_ids(messages[:j], add_generation_prompt=True)` (or where that prompt stops agreeing with
  the full render) that is in `renderer.get_stop_token_ids()`, searched up to the next assistant
  turn's generation prompt. A turn with none (GLM and Hy3 leave the last answer open) has no
  stop in the render and counts as a miss in every stop column.
- **(b) legacy stop, renderer path**: share of turns whose stop token is trained by
  `build_training_sample(renderer, messages, tools=tools, role_to_mask=lambda m: m["role"] ==
  "assistant")`: tool-call turns, answer turns (no tool calls), and answer turns with
  `ensure_final_stop=True` (which appends the canonical stop to a conversation-final turn the
  render leaves open).
- **(c) gap tokens**: for turns whose generation prompt is a prefix of the full render, tokens from
  the end of the prompt through the turn's stop token (or its last attributed token) with
  `sampled_mask` false and not trained by `build_training_sample(renderer, messages,
  tools=tools)`: what a server-side model sees after the prompt but never learns to produce. Per
  turn, by token.
- **prompt mismatch**: turns whose generation prompt is *not* a prefix of the full render, with
  the first differing token (prompt vs render) and its count.

Limits. Structural spans come from the renderer's own prefix renders, which `renderers` keeps
token-identical to each family's chat template; the families' Jinja templates themselves are not
run here. Every renderer uses its default config, so a family whose default disables thinking
still sees the generator's `reasoning_content` (Hy3's prompt closes the think block where the
render shows reasoning). Counts are over these synthetic weather conversations only.
"""


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _names(results: list[FamilyResult]) -> str:
    return ", ".join(r.name for r in results) or "none"


def _undefined(result: FamilyResult) -> str:
    if not result.structure_undefined:
        return ""
    return f"; {result.structure_undefined} of {result.turns} turns undefined, not counted"


def _missing(rates: list[tuple[FamilyResult, Rate]]) -> str:
    """Families whose rate is below 100%, or "none"."""
    return _names([r for r, rate in rates if rate.hits < rate.total])


def summary(measured: list[FamilyResult]) -> list[str]:
    """One line per finding, each computed from the results it states."""
    dropping = [r for r in measured if r.dropped]
    lines = [
        f"- A role mask over structural attribution leaves sampled tokens untrained in "
        f"{len(dropping)} of {len(measured)} measured families: "
        + "; ".join(f"{r.name} ({_tokens(r.dropped, r.rendered)}{_undefined(r)})" for r in dropping)
        + ".",
        "- Stop token not inside the turn's own structural span (or absent), by turn kind: "
        + "; ".join(
            f"{kind}: {_missing([(r, r.structural_stop[kind]) for r in measured])}"
            for kind in TURN_KINDS
        )
        + ".",
        "- Legacy role table on the renderer path, stop not always trained, by turn kind: "
        + "; ".join(
            f"{kind}: {_missing([(r, r.legacy_stop[kind]) for r in measured])}"
            for kind in TURN_KINDS
        )
        + "; last answer with `ensure_final_stop`: "
        + _missing([(r, r.last_stop_ensured) for r in measured])
        + ".",
        f"- Gap tokens after the generation prompt: {_names([r for r in measured if r.gaps])}.",
        "- Generation prompt not a prefix of the render in some turns: "
        f"{_names([r for r in measured if r.prompt_mismatch])}.",
    ]
    return lines


def render_markdown(results: list[FamilyResult]) -> str:
    import renderers

    measured = [r for r in results if r.skipped is None]
    lines = [
        "# Renderer families: which tokens a role mask over structural attribution drops",
        "",
        "<!-- Generated by `bench/families.py`; do not edit by hand. -->",
        "",
        f"Generated by `{COMMAND}` (check with `{COMMAND} --check`) against `renderers` "
        f"{renderers.__version__}; deterministic (no timings; fixed seeds). Every family's real "
        "renderer runs on an embedded tokenizer, so ids are short and differ from the released "
        "tokenizers, but which tokens are sampled, attributed and trained is the renderer's own.",
        "",
        "## Summary",
        "",
        *summary(measured),
        "",
        COLUMN_NOTES,
        "## (a) What a role mask over structural attribution drops",
        "",
        "| renderer | rendered | turns undefined | sampled outside own span, per conversation | "
        + " | ".join(f"structural stop, {kind}" for kind in TURN_KINDS)
        + " |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in measured:
        lines.append(
            f"| {r.name} | {r.rendered}/{CONVERSATIONS} | {r.structure_undefined}/{r.turns} "
            f"| {_tokens(r.dropped, r.rendered)} | "
            + " | ".join(str(r.structural_stop[kind]) for kind in TURN_KINDS)
            + " |"
        )
    lines += [
        "",
        "## (b) Legacy role table (assistant only) on the renderer path: stop trained",
        "",
        "| renderer | " + " | ".join(TURN_KINDS) + " | last answer, `ensure_final_stop` |",
        "|---|---|---|---|---|",
    ]
    for r in measured:
        lines.append(
            f"| {r.name} | "
            + " | ".join(str(r.legacy_stop[kind]) for kind in TURN_KINDS)
            + f" | {r.last_stop_ensured} |"
        )
    lines += [
        "",
        "## (c) Serving-prompt consistency",
        "",
        "| renderer | turns with prompt a prefix | gap tokens per such turn | prompt mismatch "
        "(prompt vs render: turns) |",
        "|---|---|---|---|",
    ]
    for r in measured:
        mismatch = ", ".join(
            f"{_escape(key)}: {count}" for key, count in sorted(r.prompt_mismatch.items())
        )
        lines.append(
            f"| {r.name} | {r.consistent_turns}/{r.turns} "
            f"| {_tokens(r.gaps, r.consistent_turns)} | {mismatch or 'none'} |"
        )
    lines += ["", "## Families not measured, or not on every conversation", ""]
    for r in results:
        if r.skipped is not None:
            lines.append(f"- **{r.name}**: not run. `{r.skipped}`")
        for reason, count in sorted(r.refused.items()):
            lines.append(
                f"- **{r.name}**: refused {count}/{CONVERSATIONS} conversations: `{reason}`"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    options = parser.parse_args(argv)
    text = render_markdown(measure_all())
    if options.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH.name} is stale; run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
