"""Does the trained model stop, after the right calls? Greedy generation on held-out conversations.

For every assistant turn of a held-out conversation the model is given the conversation up to that
turn (the backend's generation prompt) and decodes greedily until a serving stop token or a token
budget:
- a tool turn (the reference made N tool calls): the calls the model wrote before it stopped, read
  back with the family's `renderers` parser (`tool_calls.py`); whether it ran on past N; whether it
  closed the turn with the token the reference turn closes with (GLM-4.5: `<|observation|>`;
  ChatML: `<|im_end|>`; read from the reference's own rendering, never assumed);
- a final turn (the reference answered in text): whether the model stopped at all.
A tool turn is *exact* only when it stopped on a serving stop after exactly the requested calls,
each naming the right tool with the right arguments (in any order). A model trained with a role
mask never saw GLM's `<|observation|>` as a target, so after `</tool_call>` the only continuation
it learned is another `<tool_call>`: it runs on until the budget.

Turns of multi-step conversations (a tool call whose argument comes from an earlier observation)
are also reported apart from single-step ones.

One prompt rule for every run: the prompt is the backend's own generation prompt
(`backend.prompt_ids`, what a server would send), never extended per run. Whether a run was trained
to continue from it is measured, not assumed: `served_from_prompt` is true when that prompt is a
prefix of the training rendering of the same conversation and the token that follows it there is a
trained target. A run whose prompts fail this was never taught the first token it must produce.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from lossmask.reference_trainer.tool_calls import (
    Call,
    CallParser,
    call_parsers,
    calls_matched,
    reference_calls,
)

TOOL_CALL_OPEN = "<tool_call>"


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
    # The token the reference turn closes with in its own rendering (None: not found).
    reference_stop: str | None = None
    # The conversation has a tool turn that follows an observation (call -> observation -> call).
    multi_step: bool = False
    wanted: list[str] = field(default_factory=list)  # the reference calls, `name({...})`
    made: list[str] | None = None  # the calls read back; None: arguments not checked
    calls_right: int = 0  # reference calls the model made exactly (each matched once)

    @property
    def closed_as_reference(self) -> bool:
        return self.stop_token is not None and self.stop_token == self.reference_stop

    @property
    def right_count(self) -> bool:
        return self.stopped and self.calls == self.requested_calls

    @property
    def right_arguments(self) -> bool | None:
        """Every call right, none extra or malformed (None: not checked)."""
        if self.made is None:
            return None
        return sorted(self.made) == sorted(self.wanted)

    @property
    def exact(self) -> bool | None:
        """Stopped on a serving stop after exactly the requested, right calls."""
        right = self.right_arguments
        return None if right is None else self.right_count and right


@dataclass
class StopSummary:
    label: str
    tool_turns: int
    final_turns: int
    pct_more_than_one_call: float
    pct_ran_on: float  # more calls than the reference turn requested
    pct_right_count: float  # stopped after exactly the requested number of calls
    max_calls: int
    pct_closed: float  # tool turns closed with the reference's closing token
    pct_final_stopped: float
    prompts_not_matching_training: int = 0
    pct_served_from_prompt: float = 100.0
    closing_tokens: list[str] = field(default_factory=list)  # what tool turns close with
    # None when arguments could not be checked (`arguments_note` says why).
    pct_exact: float | None = None  # stopped, right count, right arguments
    pct_right_arguments: float | None = None  # every call right (stopped or not)
    pct_calls_right: float | None = None  # argument accuracy: reference calls made exactly
    multi_step_tool_turns: int = 0
    pct_exact_single_step: float | None = None
    pct_exact_multi_step: float | None = None
    arguments_note: str = ""
    turns: list[TurnResult] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["turns"] = [
            {**asdict(turn), "right_arguments": turn.right_arguments, "exact": turn.exact}
            for turn in self.turns
        ]
        return out


@dataclass(frozen=True)
class HeldOutTurn:
    conversation: int
    kind: str  # "tool" or "final"
    wanted: list[Call]
    messages: list[dict[str, Any]]  # the conversation before the turn
    tools: list[dict[str, Any]] | None
    multi_step: bool


def held_out_turns(conversations: list[dict[str, Any]]) -> list[HeldOutTurn]:
    """One case per assistant turn of every held-out conversation."""
    cases = []
    for index, conversation in enumerate(conversations):
        messages = conversation["messages"]
        tools = conversation.get("tools")
        multi_step = any(
            message.get("role") == "assistant"
            and message.get("tool_calls")
            and messages[position - 1].get("role") == "tool"
            for position, message in enumerate(messages)
            if position
        )
        for position, message in enumerate(messages):
            if message.get("role") != "assistant":
                continue
            wanted = reference_calls(message)
            kind = "tool" if wanted else "final"
            cases.append(
                HeldOutTurn(index, kind, wanted, messages[:position], tools, bool(multi_step))
            )
    return cases


def continues_training(prompt: list[int], sample: Any) -> tuple[bool, bool]:
    """(`prompt` is a prefix of the training rendering, and the token after it there is trained)."""
    full = [*sample.input_ids[:1], *sample.target_ids]
    if full[: len(prompt)] != prompt:
        return False, False
    # full[j] is the target of loss_mask[j - 1].
    position = len(prompt)
    return True, position < len(full) and bool(sample.loss_mask[position - 1])


def reference_continuation(prompt: list[int], sample: Any, stop_ids: list[int]) -> list[int] | None:
    """The reference turn's tokens after `prompt` in the training rendering, through its first
    serving stop (None when the prompt is not a prefix of that rendering)."""
    full = [*sample.input_ids[:1], *sample.target_ids]
    if full[: len(prompt)] != prompt:
        return None
    rest = full[len(prompt) :]
    cut = next((i for i, token in enumerate(rest) if token in stop_ids), None)
    return rest if cut is None else rest[: cut + 1]


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _checked_percent(values: list[bool | None]) -> float | None:
    if any(value is None for value in values):
        return None
    return _percent(sum(bool(value) for value in values), len(values))


def summarise(label: str, turns: list[TurnResult], arguments_note: str = "") -> StopSummary:
    tool = [turn for turn in turns if turn.kind == "tool"]
    final = [turn for turn in turns if turn.kind == "final"]
    single = [turn for turn in tool if not turn.multi_step]
    multi = [turn for turn in tool if turn.multi_step]
    checked = all(turn.made is not None for turn in tool)
    wanted = sum(len(turn.wanted) for turn in tool)
    return StopSummary(
        label=label,
        tool_turns=len(tool),
        final_turns=len(final),
        pct_more_than_one_call=_percent(sum(t.calls > 1 for t in tool), len(tool)),
        pct_ran_on=_percent(sum(t.calls > t.requested_calls for t in tool), len(tool)),
        pct_right_count=_percent(sum(t.right_count for t in tool), len(tool)),
        max_calls=max((t.calls for t in tool), default=0),
        pct_closed=_percent(sum(t.closed_as_reference for t in tool), len(tool)),
        pct_final_stopped=_percent(sum(t.stopped for t in final), len(final)),
        prompts_not_matching_training=sum(not t.prompt_matches_training for t in turns),
        pct_served_from_prompt=_percent(sum(t.served_from_prompt for t in turns), len(turns)),
        closing_tokens=sorted({t.reference_stop for t in tool if t.reference_stop}),
        pct_exact=_checked_percent([t.exact for t in tool]),
        pct_right_arguments=_checked_percent([t.right_arguments for t in tool]),
        pct_calls_right=_percent(sum(t.calls_right for t in tool), wanted) if checked else None,
        multi_step_tool_turns=len(multi),
        pct_exact_single_step=_checked_percent([t.exact for t in single]) if single else None,
        pct_exact_multi_step=_checked_percent([t.exact for t in multi]) if multi else None,
        arguments_note=arguments_note,
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


def _checked_parser(
    backend: Any,
    cases: list[HeldOutTurn],
    references: list[list[int] | None],
) -> tuple[CallParser | None, str]:
    """The first parser that reads every reference tool turn back from its own rendering."""
    parsers, reason = call_parsers(backend)
    tool_turns = [
        (case, reference)
        for case, reference in zip(cases, references, strict=True)
        if case.kind == "tool"
    ]
    if any(reference is None for _, reference in tool_turns):
        return None, "a generation prompt is not a prefix of the training rendering"
    for parser in parsers:
        if all(
            parser.parse(reference, case.tools) == case.wanted
            for case, reference in tool_turns
            if reference is not None
        ):
            return parser, ""
    if parsers:
        tried = ", ".join(parser.family for parser in parsers)
        reason = (
            f"no tool-call parser ({tried}) reads the reference calls back from this template's "
            "own rendering of them"
        )
    return None, reason


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
    cases = held_out_turns(conversations)
    rendered = [build_sample(conversation, loss_mask, backend) for conversation in conversations]
    prompt_ids, matched, served, references = [], [], [], []
    for case in cases:
        prompt = backend.prompt_ids(case.messages, case.tools)
        is_prefix, next_trained = continues_training(prompt, rendered[case.conversation])
        prompt_ids.append(prompt)
        matched.append(is_prefix)
        served.append(next_trained)
        references.append(reference_continuation(prompt, rendered[case.conversation], stop_ids))
    parser, note = _checked_parser(backend, cases, references)
    continuations = greedy_generate(model, prompt_ids, stop_ids, pad_id, max_new_tokens, device)
    turns = []
    for case, prompt, ids, is_prefix, trained_next, reference in zip(
        cases, prompt_ids, continuations, matched, served, references, strict=True
    ):
        stopped = bool(ids) and ids[-1] in stop_ids
        text = tokenizer.decode(ids, skip_special_tokens=False)
        made = parser.parse(ids, case.tools) if parser is not None else None
        reference_stop = None
        if reference and reference[-1] in stop_ids:
            reference_stop = tokenizer.convert_ids_to_tokens(reference[-1])
        turns.append(
            TurnResult(
                conversation=case.conversation,
                kind=case.kind,
                requested_calls=len(case.wanted),
                calls=len(made) if made is not None else text.count(TOOL_CALL_OPEN),
                stopped=stopped,
                stop_token=tokenizer.convert_ids_to_tokens(ids[-1]) if stopped else None,
                generated=text,
                prompt_tokens=len(prompt),
                prompt_matches_training=is_prefix,
                served_from_prompt=trained_next,
                reference_stop=reference_stop,
                multi_step=case.multi_step,
                wanted=[call.show() for call in case.wanted],
                made=None
                if made is None
                else [call.show() if call else "(malformed)" for call in made],
                calls_right=calls_matched(made, case.wanted) if made is not None else 0,
            )
        )
    return summarise(label, turns, note)
