"""Train/serve stop consistency: does the token that ends each turn in training stop the server?

A served model stops at the first serving stop id it samples (`generation_config.json`
`eos_token_id`, what vLLM stops on). For every assistant turn the audit looks at the token that
closes it in the training text and sorts the turn into one rule:

- **closed by their own serving stop** (`<|im_end|>`, `<|eot_id|>`): consistent;
- **closed by the next message's opener** (GLM-4.5: the `<|observation|>` of the tool message,
  the `<|user|>` of the next user turn; it is a serving stop and trains as the turn's end):
  consistent, and the audit says which opener closes how many turns;
- **left open at the end**: the template writes nothing after the final answer (GLM); lossmask
  appends the stop (docs/masks.md, "Final stop");
- **closed by a token that is not a serving stop** (gpt-oss writes `<|end|>` after a final answer
  followed by more messages, where the served model ends with `<|return|>`): trained on it, the
  model learns to end with a token the server does not stop on, so served it runs on.

And across the data: **serving stops that no turn ever trains** (listed so a stop the model is
expected to use but never learns is visible; Llama's `<|eom_id|>` and `<|end_of_text|>` are
normally among them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lossmask.masks.engine.sample import MaskedSequence


@dataclass
class StopConsistency:
    """Counts per rule over the audited turns (module doc)."""

    serving_stops: list[str] = field(default_factory=list)
    closed_by_stop: Counter[str] = field(default_factory=Counter)
    """The template's own closer is a serving stop: token -> turns."""
    closed_by_opener: Counter[tuple[str, str]] = field(default_factory=Counter)
    """The next message's opener closes the turn: (token, role of that message) -> turns."""
    left_open: int = 0
    """Final turns the template leaves open; lossmask appends the stop."""
    not_a_stop: Counter[str] = field(default_factory=Counter)
    """The turn ends with a token that is not a serving stop: token -> turns."""
    example: str | None = None
    trained_stops: Counter[str] = field(default_factory=Counter)
    """Serving stops trained at the end of a turn: token -> turns."""

    def record(
        self,
        sequence: MaskedSequence,
        roles: list[str],
        token: Callable[[int], str],
        where: str,
        stops_at: list[int] | None = None,
    ) -> None:
        """Sort every assistant turn of one masked conversation into its rule; `stops_at`, the
        positions of serving stop ids, when the caller has them."""
        ids, owners = sequence.ids, sequence.turn_owner
        writers = sequence.provenance.message_index
        rules = sequence.provenance.rule
        sampled = sequence.provenance.sampled
        # A turn's closer is its first *sampled* stop: a header may hold a stop id (Phi-3.5 stops
        # on `<|assistant|>`, the token that opens its turns).
        closers: dict[int, int] = {}
        if stops_at is None:
            stops_at = [k for k, token_id in enumerate(ids) if token_id in sequence.stop_ids]
        for k in stops_at:
            owner = owners[k]
            if owner is not None and sampled[k] and owner not in closers:
                closers[owner] = k
        for turn, role in enumerate(roles):
            last = sequence.turn_end(turn) if role == "assistant" else None
            if last is None:
                continue
            stop = closers.get(turn)
            if stop is None:
                text = token(ids[last])
                self.not_a_stop[text] += 1
                if self.example is None:
                    self.example = f"{where}: messages[{turn}] ends with {text}"
                continue
            text = token(ids[stop])
            writer = writers[stop]
            if writer is None and rules[stop] == "final-stop":
                self.left_open += 1
            elif writer is not None and writer != turn:
                self.closed_by_opener[text, roles[writer]] += 1
            else:
                self.closed_by_stop[text] += 1
            if sequence.mask[stop]:
                self.trained_stops[text] += 1

    def merge(self, other: StopConsistency) -> None:
        self.serving_stops = self.serving_stops or other.serving_stops
        self.closed_by_stop.update(other.closed_by_stop)
        self.closed_by_opener.update(other.closed_by_opener)
        self.left_open += other.left_open
        self.not_a_stop.update(other.not_a_stop)
        self.example = self.example or other.example
        self.trained_stops.update(other.trained_stops)

    @property
    def never_trained(self) -> list[str]:
        return [stop for stop in self.serving_stops if stop not in self.trained_stops]

    def to_json(self) -> dict[str, Any]:
        return {
            "serving_stops": list(self.serving_stops),
            "closed_by_serving_stop": dict(sorted(self.closed_by_stop.items())),
            "closed_by_next_opener": {
                f"{text} opens {role}": n
                for (text, role), n in sorted(self.closed_by_opener.items())
            },
            "left_open_stop_appended": self.left_open,
            "not_a_serving_stop": {
                "turns": sum(self.not_a_stop.values()),
                "tokens": dict(sorted(self.not_a_stop.items())),
                "example": self.example,
            },
            "serving_stops_never_trained": self.never_trained,
        }

    def lines(self) -> list[str]:
        """The audit report's lines, one per rule that applies."""
        stops = ", ".join(self.serving_stops)
        lines = [f"  train/serve stops (the server stops on {stops}):"]

        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{key} {n}" for key, n in sorted(counter.items()))

        if self.closed_by_stop:
            total = sum(self.closed_by_stop.values())
            lines.append(
                f"    closed by their own serving stop: {total} turns "
                f"({counts(self.closed_by_stop)})"
            )
        if self.closed_by_opener:
            total = sum(self.closed_by_opener.values())
            openers = ", ".join(
                f"{text} opening {role} {n}"
                for (text, role), n in sorted(self.closed_by_opener.items())
            )
            lines.append(f"    closed by the next message's opener: {total} turns ({openers})")
        if self.left_open:
            lines.append(
                f"    final turns the template leaves open, stop appended: {self.left_open}"
            )
        if self.not_a_stop:
            total = sum(self.not_a_stop.values())
            lines.append(
                f"    closed by a token that is not a serving stop: {total} turns "
                f"({counts(self.not_a_stop)}; {self.example}): trained on it, the served "
                "model ends its turn with a token the server does not stop on and runs on"
            )
        never = self.never_trained
        if never:
            lines.append(f"    serving stops no turn trains: {', '.join(never)}")
        return lines
