"""The renderer path: the `renderers` package knows, per token, what the model would have sampled.

`describe()` renders once and passes on the renderer's per-token signal (message index, sampled,
content, stop ids); the contract (`engine/contract.py`) applies the same rules as
`renderers.build_training_sample` (0.1.12), which tests/masks/test_mask_parity.py checks token for
token. One addition: tokens after the renderer's own generation prompt that it does not mark
sampled (the serving-prompt gap) count as sampled, because served from that prompt the model has
to produce them.
"""

from __future__ import annotations

from typing import Any

from lossmask.masks.engine.contract import TokenDescription
from lossmask.masks.engine.sample import MaskError


def _owned(raw: list[int], signal: list[bool]) -> tuple[list[int | None], list[bool]]:
    """(each token's message, None for scaffolding outside every message (a negative index);
    sampled: the signal, on tokens of a message only). Renderers put the scaffolding first (the
    system prompt's tools block), so that case is sliced at C speed; any other is built token by
    token."""
    lead = raw.count(-1)
    if raw[:lead] == [-1] * lead and (lead == len(raw) or min(raw[lead:]) >= 0):
        return [None] * lead + raw[lead:], [False] * lead + signal[lead:]
    indices: list[int | None] = [i if i >= 0 else None for i in raw]
    return indices, [s and i is not None for s, i in zip(signal, indices, strict=True)]


class RendererBackend:
    """A `renderers` renderer over a tokenizer."""

    def __init__(self, renderer: Any, tokenizer: Any, renderer_name: str) -> None:
        self.renderer = renderer
        self.tokenizer = tokenizer
        self.renderer_name = renderer_name
        self.name = f"renderer:{renderer_name}"
        self._stop_ids = list(renderer.get_stop_token_ids())
        self._prompt_suffix: list[int] | None = None
        # Where the stops came from, and nothing to warn about: a renderer knows its own.
        self.stop_source = f"renderer {renderer_name}"
        self.stop_warning: str | None = None

    def stop_token_ids(self) -> list[int]:
        """The ids a server stops on: the renderer's `get_stop_token_ids()`."""
        return list(self._stop_ids)

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """The conversation so far plus the generation prompt; messages as they are in the data."""
        from lossmask.masks.engine.conversation import normalise_conversation

        messages, tools, _ = normalise_conversation({"messages": messages, "tools": tools})
        return list(self.renderer.render_ids(messages, tools=tools, add_generation_prompt=True))

    def _generation_prompt(self) -> list[int]:
        """The ids the renderer appends for `add_generation_prompt`, measured once on a one-message
        conversation (empty when the renderer's prompt is not an extension of its render)."""
        if self._prompt_suffix is None:
            probe = [{"role": "user", "content": "?"}]
            plain = list(self.renderer.render_ids(probe, add_generation_prompt=False))
            prompted = list(self.renderer.render_ids(probe, add_generation_prompt=True))
            self._prompt_suffix = prompted[len(plain) :] if prompted[: len(plain)] == plain else []
        return self._prompt_suffix

    def _prompt_gap(
        self, ids: list[int], indices: list[int], sampled: list[bool], roles: list[str]
    ) -> list[int]:
        """Tokens of an assistant turn after the generation prompt and before the renderer's first
        sampled token: served from that prompt the model must produce them, yet the renderer does
        not mark them sampled (renderers 0.1.12 GLM-4.5: the `\n` after `<|assistant|>`)."""
        prompt = self._generation_prompt()
        if not prompt:
            return []
        gap: list[int] = []
        count, first = len(ids), 0
        for index, role in enumerate(roles):
            if role != "assistant":
                continue
            try:  # where message `index` starts (a C-level scan from the previous start)
                first = indices.index(index, first)
            except ValueError:
                continue
            after = first + len(prompt)
            if ids[first:after] != prompt:
                continue  # the turn does not open with the generation prompt: nothing to say
            j = after
            while j < count and indices[j] == index and not sampled[j]:
                j += 1
            if j < count and indices[j] == index:  # stop at the turn's first sampled token
                gap.extend(range(after, j))
        return gap

    def describe(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> TokenDescription:
        try:
            rendered = self.renderer.render(messages, tools=tools)
        except (ValueError, TypeError, KeyError) as error:  # the renderer refuses this conversation
            raise MaskError(f"the renderer raised an error: {error}") from None
        ids = list(rendered.token_ids)
        count = len(ids)
        signal = list(rendered.sampled_mask)
        has_signal = len(signal) == count
        if not has_signal:
            signal = [False] * count
        content = list(rendered.is_content)
        has_content = len(content) == count
        if not has_content:
            content = list(signal)
        roles = [message["role"] for message in messages]
        raw_indices = list(rendered.message_indices)
        indices, sampled = _owned(raw_indices, signal)
        rule = ["sampled"] * count
        gap = self._prompt_gap(ids, raw_indices, sampled, roles) if has_signal else []
        for k in gap:
            sampled[k] = True
            rule[k] = "serving-prompt"
        last_sampled = next((k for k in range(count - 1, -1, -1) if sampled[k]), None)
        closed = last_sampled is not None and ids[last_sampled] in set(self._stop_ids)
        return TokenDescription(
            ids=ids,
            message=indices,
            turn=list(indices),
            sampled=sampled,
            content=content,
            roles=roles,
            stop_ids=list(self._stop_ids),
            final_stop_id=self._stop_ids[0],
            # Without a sampled signal nothing can say where the final turn ends (renderers'
            # `ensure_final_stop` is a no-op there too).
            final_closed=closed or not has_signal,
            roles_need_sampled=has_signal,
            sampled_rule=rule,
            prompt_gap=gap,
            has_sampled_signal=has_signal,
            has_content_signal=has_content,
        )
