"""Does the trained model stop? Greedy generation on held-out conversations.

For every assistant turn of a held-out conversation the model is given the conversation up to that
turn (plus the generation prompt) and decodes greedily until a serving stop token or a token budget:
- a tool turn (the reference made N tool calls): how many `<tool_call>`s the model wrote before
  it stopped, and whether it closed the turn with `<|observation|>`, the token GLM-4.5 is served
  to stop on after a tool call;
- a final turn (the reference answered in text): whether the model stopped at all.
A model trained with a role mask never saw `<|observation|>` as a target, so after `</tool_call>`
the only continuation it learned is another `<tool_call>`: it runs on until the budget.

One prompt rule for every run: the prompt is the backend's own generation prompt
(`backend.prompt_ids`, what a server would send), never extended per run. Whether a run was trained
to continue from it is measured, not assumed: `served_from_prompt` is true when that prompt is a
prefix of the training rendering of the same conversation and the token that follows it there is a
trained target. A run whose prompts fail this was never taught the first token it must produce.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

TOOL_CALL_OPEN = "<tool_call>"
OBSERVATION = "<|observation|>"


@dataclass
class TurnResult:
    conversation: int
    kind: str  # "tool" or "final"
    requested_calls: int  # tool calls the reference turn made (0 for a final turn)
    calls: int  # tool calls the model wrote before it stopped (or ran out of budget)
    stopped: bool
    stop_token: str | None
    generated: str
    prompt_tokens: int = 0  # length of the backend's generation prompt the model was given
    # False when the backend's generation prompt is not a prefix of the training rendering of the
    # same conversation: the model is then asked to continue a context it never saw in training.
    prompt_matches_training: bool = True
    # The prompt matches training and the token after it was trained: served from this prompt, the
    # model was taught its first token.
    served_from_prompt: bool = True

    @property
    def closed_with_observation(self) -> bool:
        return self.stop_token == OBSERVATION


@dataclass
class StopSummary:
    label: str
    tool_turns: int
    final_turns: int
    pct_more_than_one_call: float
    pct_ran_on: float  # more calls than the reference turn requested
    pct_exact_calls: float
    max_calls: int
    pct_closed_with_observation: float
    pct_final_stopped: float
    prompts_not_matching_training: int = 0
    pct_served_from_prompt: float = 100.0
    turns: list[TurnResult] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["turns"] = [asdict(turn) for turn in self.turns]
        return out


def held_out_prompts(
    conversations: list[dict[str, Any]],
) -> list[tuple[int, str, int, list[dict[str, Any]], list[dict[str, Any]] | None]]:
    """(conversation, kind, requested_calls, messages before the turn, tools) per assistant turn."""
    prompts = []
    for index, conversation in enumerate(conversations):
        messages = conversation["messages"]
        tools = conversation.get("tools")
        for position, message in enumerate(messages):
            if message.get("role") != "assistant":
                continue
            calls = len(message.get("tool_calls") or [])
            kind = "tool" if calls else "final"
            prompts.append((index, kind, calls, messages[:position], tools))
    return prompts


def continues_training(prompt: list[int], sample: Any) -> tuple[bool, bool]:
    """(`prompt` is a prefix of the training rendering, and the token after it there is trained)."""
    full = [*sample.input_ids[:1], *sample.target_ids]
    if full[: len(prompt)] != prompt:
        return False, False
    # full[j] is the target of loss_mask[j - 1].
    position = len(prompt)
    return True, position < len(full) and bool(sample.loss_mask[position - 1])


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def summarise(label: str, turns: list[TurnResult]) -> StopSummary:
    tool = [turn for turn in turns if turn.kind == "tool"]
    final = [turn for turn in turns if turn.kind == "final"]
    return StopSummary(
        label=label,
        tool_turns=len(tool),
        final_turns=len(final),
        pct_more_than_one_call=_percent(sum(t.calls > 1 for t in tool), len(tool)),
        pct_ran_on=_percent(sum(t.calls > t.requested_calls for t in tool), len(tool)),
        pct_exact_calls=_percent(sum(t.calls == t.requested_calls for t in tool), len(tool)),
        max_calls=max((t.calls for t in tool), default=0),
        pct_closed_with_observation=_percent(
            sum(t.closed_with_observation for t in tool), len(tool)
        ),
        pct_final_stopped=_percent(sum(t.stopped for t in final), len(final)),
        prompts_not_matching_training=sum(not t.prompt_matches_training for t in turns),
        pct_served_from_prompt=_percent(sum(t.served_from_prompt for t in turns), len(turns)),
        turns=turns,
    )


def serving_stop_ids(backend: Any) -> list[int]:
    """The ids generation stops on: the backend's serving stops plus the tokenizer's EOS."""
    ids = list(backend.stop_token_ids())
    eos = backend.tokenizer.eos_token_id
    if eos is not None and eos not in ids:
        ids.append(eos)
    return ids


@torch.no_grad()
def greedy_generate(
    model: Any,
    prompts: list[list[int]],
    stop_ids: list[int],
    pad_id: int,
    max_new_tokens: int,
    device: torch.device,
    batch_size: int = 32,
) -> list[list[int]]:
    """Greedy continuations, each cut after its first stop id (kept) or at the budget."""
    model.eval()
    outputs: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        width = max(len(prompt) for prompt in chunk)
        # Left padding, so every row's next token comes right after its prompt.
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, prompt in enumerate(chunk):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
            attention[row, width - len(prompt) :] = 1
        generated = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention.to(device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=stop_ids,
            pad_token_id=pad_id,
        )
        for row in generated[:, width:].tolist():
            cut = next((i for i, token in enumerate(row) if token in stop_ids), None)
            outputs.append(row if cut is None else row[: cut + 1])
    model.train()
    return outputs


def evaluate_stopping(
    model: Any,
    backend: Any,
    conversations: list[dict[str, Any]],
    *,
    loss_mask: Any,
    label: str,
    max_new_tokens: int,
    device: torch.device,
) -> StopSummary:
    from lossmask.masks import build_sample

    tokenizer = backend.tokenizer
    stop_ids = serving_stop_ids(backend)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    cases = held_out_prompts(conversations)
    rendered = [build_sample(conversation, loss_mask, backend) for conversation in conversations]
    prompt_ids, matched, served = [], [], []
    for index, _, _, messages, tools in cases:
        prompt = backend.prompt_ids(messages, tools)
        is_prefix, next_trained = continues_training(prompt, rendered[index])
        prompt_ids.append(prompt)
        matched.append(is_prefix)
        served.append(next_trained)
    continuations = greedy_generate(model, prompt_ids, stop_ids, pad_id, max_new_tokens, device)
    turns = []
    for (index, kind, requested, _, _), prompt, ids, is_prefix, trained_next in zip(
        cases, prompt_ids, continuations, matched, served, strict=True
    ):
        stopped = bool(ids) and ids[-1] in stop_ids
        text = tokenizer.decode(ids, skip_special_tokens=False)
        turns.append(
            TurnResult(
                conversation=index,
                kind=kind,
                requested_calls=requested,
                calls=text.count(TOOL_CALL_OPEN),
                stopped=stopped,
                stop_token=tokenizer.convert_ids_to_tokens(ids[-1]) if stopped else None,
                generated=text,
                prompt_tokens=len(prompt),
                prompt_matches_training=is_prefix,
                served_from_prompt=trained_next,
            )
        )
    return summarise(label, turns)


COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("pct_more_than_one_call", "tool turns >1 call", "{:.0f}%"),
    ("pct_ran_on", "ran on past request", "{:.0f}%"),
    ("max_calls", "most calls in a turn", "{}"),
    ("pct_exact_calls", "exact call count", "{:.0f}%"),
    ("pct_closed_with_observation", "closed with <|observation|>", "{:.0f}%"),
    ("pct_final_stopped", "final turns stopped", "{:.0f}%"),
    ("pct_served_from_prompt", "prompt's next token trained", "{:.0f}%"),
)


def format_table(summaries: list[StopSummary], *, markdown: bool = False) -> str:
    """A table, one row per run, aligned for a terminal; `markdown=True` escapes `|` in cells."""
    header = ["run", "tool turns", *(title for _, title, _ in COLUMNS)]
    if markdown:
        header = [cell.replace("|", "\\|") for cell in header]
    rows = [
        [s.label, str(s.tool_turns), *(fmt.format(getattr(s, key)) for key, _, fmt in COLUMNS)]
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def write_summaries(summaries: list[StopSummary], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([summary.to_json() for summary in summaries], indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
