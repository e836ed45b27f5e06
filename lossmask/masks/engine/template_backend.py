"""The chat-template path: a transformers tokenizer's jinja template, no sampled signal.

Which message owns which token comes from an incremental render: the template is rendered as *text*
for every prefix `messages[:i+1]` and the full text is tokenized once with character offsets, so
each token is attributed to the message whose prefix first produced its first character. That is the
same attribution as re-tokenizing every prefix (the legacy role filter) at the cost of one
tokenization instead of one per message (bench/mask_bench.py measures both).

`{% generation %}` blocks, where the template has them, are the sampled signal for `"sampled"`;
otherwise `"sampled"` means assistant-only and the backend says so once.
"""

from __future__ import annotations

import bisect
import logging
import re
from typing import Any

from lossmask.masks.engine.sample import MaskedSequence, MaskError, ProvenanceColumns
from lossmask.schema.roles import LossMaskRolesConfig

logger = logging.getLogger("lossmask.masks")

# Tokens that end a turn in common chat templates; those present in a vocabulary as added tokens
# count as serving stops alongside the tokenizer's EOS.
KNOWN_TURN_CLOSERS: tuple[str, ...] = (
    "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|user|>", "<|observation|>", "<|return|>", "<|call|>", "</s>",
)  # fmt: skip
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


def _aligned_end(prefix_text: str, full: str) -> int:
    """Where the end of `prefix_text` falls in `full`, when `prefix_text` is not a prefix of it."""
    from difflib import SequenceMatcher

    common = next(
        (k for k, (a, b) in enumerate(zip(prefix_text, full, strict=False)) if a != b),
        len(prefix_text),
    )
    tail = prefix_text[common:]
    window = full[common : common + len(tail)]
    blocks = SequenceMatcher(None, tail, window, autojunk=False).get_matching_blocks()
    # Short matches are coincidences (a newline, a quote); text the prefix render adds only because
    # the message was last (a closer that consecutive tool messages share) matches nothing real.
    matched = [block for block in blocks if block.size >= 4]
    if not matched:
        return common
    return common + matched[-1].b + matched[-1].size


class ChatTemplateBackend:
    """A tokenizer whose `chat_template` renders conversations."""

    def __init__(self, tokenizer: Any, *, template_kwargs: dict[str, Any] | None = None) -> None:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        template = getattr(tokenizer, "chat_template", None)
        if not isinstance(template, str) or not template:
            raise MaskError(
                f"tokenizer {tokenizer.name_or_path!r} has no chat template; name a renderer "
                "([renderer] name) or use a tokenizer that ships one"
            )
        self.tokenizer = tokenizer
        self.name = "chat-template"
        self.template = template
        self.has_generation_markers = bool(_GENERATION_TAG.search(template))
        self._compiled = _compile_jinja_template(template)
        # apply_chat_template passes the special tokens (bos_token, eos_token, ...) to the template.
        self._template_kwargs = {**tokenizer.special_tokens_map, **(template_kwargs or {})}
        self._noticed_fallback = False
        self._noticed_unstable = False
        if tokenizer.eos_token_id is None:
            raise MaskError(f"tokenizer {tokenizer.name_or_path!r} has no EOS token to stop on")
        self.eos_id: int = tokenizer.eos_token_id
        vocab = tokenizer.get_added_vocab()
        closers = {vocab[token] for token in KNOWN_TURN_CLOSERS if token in vocab}
        self._stop_ids = [self.eos_id, *sorted(closers - {self.eos_id})]

    def stop_token_ids(self) -> list[int]:
        """EOS first, then the template's end-of-turn tokens found in the vocabulary."""
        return list(self._stop_ids)

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """The conversation so far plus the generation prompt; messages as they are in the data."""
        from lossmask.masks.engine.conversation import normalise_conversation

        messages, tools, _ = normalise_conversation({"messages": messages, "tools": tools})
        ids = self.tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=True, tokenize=True, return_dict=False
        )
        return list(ids)

    def _render_text(self, messages: list[dict[str, Any]], tools: Any) -> str:
        return str(
            self._compiled.render(
                messages=messages, tools=tools, add_generation_prompt=False, **self._template_kwargs
            )
        )

    def _render(
        self, messages: list[dict[str, Any]], tools: Any
    ) -> tuple[str, list[tuple[int, int]], int, list[int]]:
        """(full text, generation spans, end of the preamble, end of each message's output)."""
        from transformers.utils.chat_template_utils import (
            _alias_reasoning_fields,
            _plain_template_data,
        )

        from lossmask.masks.engine.template_tracking import render_tracked

        # The same preparation render_jinja_template gives a conversation.
        plain = _alias_reasoning_fields(_plain_template_data(messages))
        full, generation, starts = render_tracked(
            self._compiled,
            plain,
            _plain_template_data(tools),
            self._template_kwargs,
            track_generation=self.has_generation_markers,
        )
        # Text before the first message's output belongs to it unless the template writes the same
        # text for an empty conversation (a tools block): the prefix-render rule, kept exactly.
        preamble = self._preamble_end(tools, full)
        if starts is not None:
            return full, generation, preamble, [*starts[1:], len(full)]
        if not self._noticed_unstable:
            logger.debug("chat template peeks ahead; falling back to prefix renders")
        return full, generation, preamble, self._message_boundaries(messages, tools, full)

    def _message_boundaries(
        self, messages: list[dict[str, Any]], tools: Any, full: str
    ) -> list[int]:
        """End character of each message's contribution, from text renders of every prefix.

        The slow, always-right attribution, used when a single tracked render is ambiguous."""
        from transformers.utils.chat_template_utils import (
            _alias_reasoning_fields,
            _plain_template_data,
        )

        # The same preparation render_jinja_template gives the full render.
        plain = _alias_reasoning_fields(_plain_template_data(messages))
        plain_tools = _plain_template_data(tools)
        ends = []
        for end in range(1, len(messages)):
            text = self._render_text(plain[:end], plain_tools)
            if full.startswith(text):
                ends.append(len(text))
                continue
            # Not prefix-stable: real templates render a message differently once it is no longer
            # last (Qwen3's empty think block) or once a later user turn exists (dropped reasoning).
            # Such differences sit inside the message, so align the prefix render's tail with the
            # full text to find where this message ends there.
            ends.append(_aligned_end(text, full))
            if not self._noticed_unstable:
                self._noticed_unstable = True
                logger.debug("chat template is not prefix-stable at messages[:%d]", end)
        ends.append(len(full))
        return [min(max(end, 0), len(full)) for end in ends]

    def _preamble_end(self, tools: Any, full: str) -> int:
        """Text the template writes before any message (tools block); it belongs to no message."""
        try:
            text = self._render_text([], tools)
        except Exception:  # templates may refuse an empty conversation; then there is no preamble
            return 0
        return len(text) if full.startswith(text) else 0

    def mask(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        loss_mask: str | LossMaskRolesConfig,
        train_flags: list[bool],
    ) -> MaskedSequence:
        full, generation_spans, preamble, ends = self._render(messages, tools)
        encoding = self.tokenizer._tokenizer.encode(full, add_special_tokens=False)
        ids: list[int] = list(encoding.ids)
        offsets: list[tuple[int, int]] = list(encoding.offsets)
        roles = [message["role"] for message in messages]
        count = len(ids)

        owners: list[int | None] = []
        for start, _ in offsets:
            owners.append(None if start < preamble else bisect.bisect_right(ends, start))
        owners = [o if o is None or o < len(messages) else len(messages) - 1 for o in owners]

        generated = [False] * count
        span = 0
        for k, (start, end) in enumerate(offsets):
            while span < len(generation_spans) and start >= generation_spans[span][1]:
                span += 1
            if span == len(generation_spans):
                break
            generated[k] = end > generation_spans[span][0]

        # A generated closer the template writes with the next message (GLM's `<|observation|>`)
        # ends the previous assistant's turn: it belongs to that turn for "sampled" and stop counts.
        turn_owner = list(owners)
        for k, owner in enumerate(owners):
            if owner is None or owner == 0 or not generated[k]:
                continue
            if roles[owner] != "assistant" and roles[owner - 1] == "assistant":
                turn_owner[k] = owner - 1

        token_roles = [roles[o] if o is not None else None for o in owners]
        content = self._content_flags(messages, full, offsets, owners, ends)
        mask, rules, sampled, owners_for_mask = self._apply_mode(
            loss_mask, owners, turn_owner, token_roles, generated, roles
        )

        # EOS when the final assistant turn has no stop of its own (GLM-style templates).
        stop_set = set(self._stop_ids)
        if roles[-1] == "assistant":
            final = len(messages) - 1
            has_stop = any(ids[k] in stop_set for k in range(count) if turn_owner[k] == final)
            if not has_stop:
                trains = loss_mask in ("all", "sampled") or (
                    isinstance(loss_mask, LossMaskRolesConfig) and loss_mask.assistant
                )
                ids.append(self.eos_id)
                mask.append(trains)
                rules.append("final-stop" if trains else "role:assistant off")
                owners.append(None)
                owners_for_mask.append(final)
                turn_owner.append(final)
                token_roles.append("assistant")
                sampled.append(True)
                content.append(True)

        if not all(train_flags):
            for k, owner in enumerate(owners_for_mask):
                if mask[k] and owner is not None and not train_flags[owner]:
                    mask[k] = False
                    rules[k] = "train=false"

        self._check_stop_trained(ids, mask, owners_for_mask, roles, stop_set)
        provenance = ProvenanceColumns(owners, token_roles, sampled, content, rules)
        return MaskedSequence(ids, mask, provenance, frozenset(stop_set), turn_owner)

    def _apply_mode(
        self,
        loss_mask: str | LossMaskRolesConfig,
        owners: list[int | None],
        turn_owner: list[int | None],
        token_roles: list[str | None],
        generated: list[bool],
        roles: list[str],
    ) -> tuple[list[bool], list[str], list[bool], list[int | None]]:
        """(mask, rules, sampled signal, the owner each token's `train` flag is read from)."""
        count = len(owners)
        assistant_owned = [role == "assistant" for role in token_roles]
        if loss_mask == "all":
            sampled = generated if self.has_generation_markers else assistant_owned
            return [True] * count, ["all"] * count, list(sampled), list(owners)
        if loss_mask == "sampled":
            if self.has_generation_markers:
                rules = ["generation" if g else "not-generated" for g in generated]
                return list(generated), rules, list(generated), list(turn_owner)
            if not self._noticed_fallback:
                self._noticed_fallback = True
                logger.warning(
                    'loss_mask = "sampled": this chat template has no {% generation %} blocks, '
                    "so there is no sampled signal; training assistant messages only (turn closers "
                    "the template writes with the next message stay untrained). Name a renderer "
                    "in [renderer] to train them."
                )
            rules = ["assistant-fallback" if a else "not-assistant" for a in assistant_owned]
            return list(assistant_owned), rules, list(assistant_owned), list(owners)
        if isinstance(loss_mask, LossMaskRolesConfig):
            enabled = set(loss_mask.enabled_roles())
            mask, rules = [], []
            for role in token_roles:
                if role is None:
                    mask.append(False)
                    rules.append("outside-messages")
                else:
                    mask.append(role in enabled)
                    rules.append(f"role:{role}" if role in enabled else f"role:{role} off")
            sampled = generated if self.has_generation_markers else assistant_owned
            return mask, rules, list(sampled), list(owners)
        raise MaskError(f"unknown loss_mask {loss_mask!r}; use 'sampled', 'all' or a role table")

    @staticmethod
    def _content_flags(
        messages: list[dict[str, Any]],
        full: str,
        offsets: list[tuple[int, int]],
        owners: list[int | None],
        ends: list[int],
    ) -> list[bool]:
        """Approximate: a token is content when it lies inside its message's content string."""
        spans: list[tuple[int, int]] = []
        for index, message in enumerate(messages):
            start = ends[index - 1] if index else 0
            body = message.get("content")
            if not isinstance(body, str) or not body:
                spans.append((-1, -1))
                continue
            found = full.find(body, start, ends[index])
            spans.append((found, found + len(body)) if found >= 0 else (-1, -1))
        flags = []
        for (start, end), owner in zip(offsets, owners, strict=True):
            lo, hi = spans[owner] if owner is not None else (-1, -1)
            flags.append(lo <= start and end <= hi and lo >= 0)
        return flags

    def _check_stop_trained(
        self,
        ids: list[int],
        mask: list[bool],
        owners: list[int | None],
        roles: list[str],
        stop_set: set[int],
    ) -> None:
        trains_assistant = any(
            m and o is not None and roles[o] == "assistant"
            for m, o in zip(mask, owners, strict=True)
        )
        if trains_assistant and not any(
            m and t in stop_set for m, t in zip(mask, ids, strict=True)
        ):
            raise MaskError(
                "no stop token is among the trained targets: this chat template ends assistant "
                f"turns with none of {sorted(self.tokenizer.convert_ids_to_tokens(list(stop_set)))}"
                "; the model would never learn to stop. Set the tokenizer's eos_token to the "
                "template's end-of-turn token, or name a renderer"
            )
