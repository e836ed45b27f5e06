"""The renderer path: the `renderers` package knows, per token, what the model would have sampled.

`mask()` renders once and applies the same rules as `renderers.build_training_sample` (0.1.12) for
each mode; tests/masks/test_mask_parity.py checks it token for token against
`build_training_sample` called directly. We do not call `build_training_sample` itself because
provenance needs the per-token render metadata it discards, and rendering twice would double the
cost.
"""

from __future__ import annotations

from typing import Any

from lossmask.masks.engine.sample import MaskedSequence, MaskError, ProvenanceColumns
from lossmask.schema.roles import LossMaskRolesConfig


class RendererBackend:
    """A `renderers` renderer over a tokenizer."""

    def __init__(self, renderer: Any, tokenizer: Any, renderer_name: str) -> None:
        self.renderer = renderer
        self.tokenizer = tokenizer
        self.renderer_name = renderer_name
        self.name = f"renderer:{renderer_name}"
        self._stop_ids = list(renderer.get_stop_token_ids())

    def stop_token_ids(self) -> list[int]:
        """The ids a server stops on: the renderer's `get_stop_token_ids()`."""
        return list(self._stop_ids)

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """The conversation so far plus the generation prompt; messages as they are in the data."""
        from lossmask.masks.engine.conversation import normalise_conversation

        messages, tools, _ = normalise_conversation({"messages": messages, "tools": tools})
        return list(self.renderer.render_ids(messages, tools=tools, add_generation_prompt=True))

    def mask(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        loss_mask: str | LossMaskRolesConfig,
        train_flags: list[bool],
    ) -> MaskedSequence:
        rendered = self.renderer.render(messages, tools=tools)
        ids = list(rendered.token_ids)
        count = len(ids)
        sampled_signal = list(rendered.sampled_mask)
        if len(sampled_signal) != count:
            if loss_mask != "all":
                raise MaskError(
                    f"renderer {self.renderer_name!r} gives no per-token sampled signal, so "
                    f"loss_mask = {loss_mask!r} has nothing to follow; name a model-specific "
                    'renderer, use loss_mask = "all", or drop [renderer] to use the chat template'
                )
            sampled_signal = [False] * count
        content_signal = list(rendered.is_content)
        if len(content_signal) != count:
            content_signal = sampled_signal
        roles = [message["role"] for message in messages]
        indices: list[int | None] = [i if i >= 0 else None for i in rendered.message_indices]
        token_roles: list[str | None] = [roles[i] if i is not None else None for i in indices]

        mask: list[bool]
        rules: list[str]
        if loss_mask == "all":
            mask = [True] * count
            rules = ["all"] * count
        elif loss_mask == "sampled":
            mask = [s and i is not None for s, i in zip(sampled_signal, indices, strict=True)]
            rules = ["sampled" if m else "not-sampled" for m in mask]
        elif isinstance(loss_mask, LossMaskRolesConfig):
            enabled = set(loss_mask.enabled_roles())
            mask, rules = [], []
            for s, role in zip(sampled_signal, token_roles, strict=True):
                if not s or role is None:
                    mask.append(False)
                    rules.append("not-sampled")
                elif role in enabled:
                    mask.append(True)
                    rules.append(f"role:{role}")
                else:
                    mask.append(False)
                    rules.append(f"role:{role} off")
        else:
            raise MaskError(
                f"unknown loss_mask {loss_mask!r}; use 'sampled', 'all' or a role table"
            )

        # The template leaves a final assistant turn unterminated (GLM): append the renderer's own
        # canonical stop as a trained target, exactly where `ensure_final_stop` would.
        stop_ids = set(self._stop_ids)
        final_trains = roles[-1] == "assistant" and (
            not isinstance(loss_mask, LossMaskRolesConfig) or loss_mask.assistant
        )
        # Under "all" every token trains; whether the turn is already closed is read from what the
        # model samples, so ChatML's `<|im_end|>` followed by scaffolding `\n` counts as closed.
        decided_by = sampled_signal if loss_mask == "all" else mask
        if final_trains:
            last_trained = next((k for k in range(count - 1, -1, -1) if decided_by[k]), None)
            if last_trained is None or ids[last_trained] not in stop_ids:
                ids.append(self._stop_ids[0])
                mask.append(True)
                rules.append("final-stop")
                indices.append(None)
                token_roles.append("assistant")
                sampled_signal = [*sampled_signal, True]
                content_signal = [*content_signal, True]

        turn_owner = [*rendered.message_indices]
        turn_owner += [len(messages) - 1] * (len(ids) - len(turn_owner))
        turn_owner = [i if i >= 0 else None for i in turn_owner]
        if not all(train_flags):
            # `"train": false` narrows, never widens; a closer follows the assistant it closes and
            # the appended stop follows the final message, as in renderers' `message_loss_mask`.
            for k, owner in enumerate(turn_owner):
                if mask[k] and owner is not None and not train_flags[owner]:
                    mask[k] = False
                    rules[k] = "train=false"

        provenance = ProvenanceColumns(indices, token_roles, sampled_signal, content_signal, rules)
        return MaskedSequence(ids, mask, provenance, frozenset(stop_ids), turn_owner)
