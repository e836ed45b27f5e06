"""Mask-engine benchmarks, every ratio measured side by side in one run.

    python bench/mask_bench.py            # full run (about a minute on 2 cores)
    python bench/mask_bench.py --quick    # smaller sizes, for a smoke check

1. Mask building on the renderer path vs the renderer's bare `render()`, the renderer as
   `renderers.create_renderer` builds it (target: within 1.10x); also over lossmask's own render.
2. The role mask on the chat-template path, incremental (text render of each prefix, one
   tokenization) vs re-tokenizing every prefix from scratch with `apply_chat_template`, the legacy
   way, on conversations with 16 assistant turns (target: at least 5x).
3. Audit throughput in conversations per second.
4. `"sampled"` derived from serving on a template without `{% generation %}` tags (the embedded
   GLM-4.5 template with its tags removed, no reasoning: prefix-stable), 16 assistant turns, vs a
   bare `apply_chat_template` (target: at most 2x) and vs rendering the generation prompt of every
   assistant turn with `apply_chat_template(..., add_generation_prompt=True)` (target: at least
   5x faster).

Timings are the best of `--repeat` runs, to keep noise from other processes out of the ratios.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from lossmask.masks import build_sample, generate_conversations, load_backend
from lossmask.masks.app.audit import audit_conversations
from lossmask.masks.app.conversations import as_rows
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.schema.roles import LossMaskRolesConfig


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_best(repeat: int, *runs: Callable[[], Any]) -> tuple[float, ...]:
    """Best time of each, alternating runs so slow phases of a shared machine hit all of them."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, measured in zip(runs, times, strict=True):
            measured.append(best_of(1, run))
    return tuple(min(measured) for measured in times)


def legacy_role_mask(tokenizer: Any, messages: list[dict], tools: Any, roles: set[str]) -> list:
    """The baseline: tokenize every prefix and attribute the new tokens to the last message."""
    mask: list[bool] = []
    previous: list[int] = []
    for end in range(1, len(messages) + 1):
        ids = tokenizer.apply_chat_template(
            messages[:end], tools=tools, tokenize=True, return_dict=False
        )
        mask += [messages[end - 1]["role"] in roles] * (len(ids) - len(previous))
        previous = ids
    return mask


def sampled_from_every_prompt(tokenizer: Any, messages: list[dict], tools: Any) -> list[bool]:
    """The baseline for [4]: render every assistant turn's serving prompt and tokenize it, then
    mark what follows each prompt in the full ids up to the first stop (what serving samples)."""
    ids = tokenizer.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=False)
    stops = {
        tokenizer.eos_token_id,
        *tokenizer.convert_tokens_to_ids(["<|user|>", "<|observation|>"]),
    }
    mask = [False] * len(ids)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = tokenizer.apply_chat_template(
            messages[:index],
            tools=tools,
            tokenize=True,
            return_dict=False,
            add_generation_prompt=True,
        )
        k = len(prompt)
        while k < len(ids):
            mask[k] = True
            if ids[k] in stops:
                break
            k += 1
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size = 40 if args.quick else 200

    renderer_backend = load_backend(renderer="glm-4.5")
    template_backend = load_backend()
    ours = renderer_backend.renderer  # type: ignore[attr-defined]
    import renderers

    # The bare loop's renderer as a user builds it; lossmask's own encodes through a
    # DirectTokenizer (engine/renderer_tokenizer.py), so [1] also prints a loop over that one.
    renderer = renderers.create_renderer(renderer_backend.tokenizer, ours.config)  # type: ignore[attr-defined]

    # 1. renderer path vs bare render(), interleaved so both see the same machine load
    conversations = generate_conversations(size, seed=1, exchanges=2, reasoning_rate=0.5)
    for conversation in conversations[:10]:  # warm caches (tokenizer, renderer, imports)
        build_sample(conversation, "sampled", renderer_backend)

    def render_all() -> None:
        for c in conversations:
            renderer.render(c["messages"], tools=c["tools"])

    def build_all() -> None:
        for c in conversations:
            build_sample(c, "sampled", renderer_backend)

    def render_ours() -> None:
        for c in conversations:
            ours.render(c["messages"], tools=c["tools"])

    bare, built, own = interleaved_best(args.repeat, render_all, build_all, render_ours)
    print(f"[1] {size} conversations (2 exchanges each), renderer glm-4.5, embedded tokenizer")
    print(f"    bare render():          {1000 * bare / size:7.3f} ms/conversation")
    print(f"    build_sample(sampled):  {1000 * built / size:7.3f} ms/conversation")
    print(f"    ratio build/render:     {built / bare:7.3f}x   (target <= 1.10x)")
    print(f"    lossmask's render():    {1000 * own / size:7.3f} ms/conversation")
    print(f"    build over its render:  {built / own:7.3f}x")

    # 2. chat-template role mask: incremental vs every prefix from scratch
    long_size = 10 if args.quick else 40
    long_conversations = generate_conversations(long_size, seed=2, exchanges=8, reasoning_rate=0.3)
    turns = sum(m["role"] == "assistant" for m in long_conversations[0]["messages"])
    legacy = LossMaskRolesConfig()
    tokenizer = template_backend.tokenizer
    long_prepared = [normalise_conversation(c)[:2] for c in long_conversations]
    scratch, incremental = interleaved_best(
        args.repeat,
        lambda: [legacy_role_mask(tokenizer, m, t, {"assistant"}) for m, t in long_prepared],
        lambda: [build_sample(c, legacy, template_backend) for c in long_conversations],
    )
    messages = sum(len(m) for m, _ in long_prepared) / long_size
    print(
        f"[2] {long_size} conversations with {turns} assistant turns "
        f"({messages:.0f} messages each), chat template, legacy role table"
    )
    print(f"    every prefix from scratch: {1000 * scratch / long_size:8.2f} ms/conversation")
    print(f"    incremental build_sample:  {1000 * incremental / long_size:8.2f} ms/conversation")
    print(f"    speed-up:                  {scratch / incremental:8.2f}x   (target >= 5x)")

    # 4. "sampled" derived from serving on a tagless, prefix-stable template
    notags = load_backend(tokenizer="embedded:glm-4.5-notags")
    plain = generate_conversations(long_size, seed=4, exchanges=8, reasoning_rate=0.0)
    plain_turns = sum(m["role"] == "assistant" for m in plain[0]["messages"])
    plain_prepared = [normalise_conversation(c)[:2] for c in plain]
    notags_tokenizer = notags.tokenizer
    for conversation in plain[:3]:
        build_sample(conversation, "sampled", notags)

    def apply_all() -> None:
        for m, t in plain_prepared:
            notags_tokenizer.apply_chat_template(m, tools=t, tokenize=True, return_dict=False)

    def every_prompt() -> None:
        for m, t in plain_prepared:
            sampled_from_every_prompt(notags_tokenizer, m, t)

    def derived() -> None:
        for c in plain:
            build_sample(c, "sampled", notags)

    bare_apply, prompts, ours = interleaved_best(args.repeat, apply_all, every_prompt, derived)
    print(
        f"[4] {long_size} conversations with {plain_turns} assistant turns, GLM-4.5 template "
        'without generation tags, derived "sampled"'
    )
    print(f"    bare apply_chat_template:     {1000 * bare_apply / long_size:8.2f} ms/conversation")
    print(f"    every serving prompt rendered: {1000 * prompts / long_size:7.2f} ms/conversation")
    print(f"    build_sample(sampled):        {1000 * ours / long_size:8.2f} ms/conversation")
    print(f"    ratio build/apply:            {ours / bare_apply:8.2f}x   (target <= 2x)")
    print(f"    speed-up over every prompt:   {prompts / ours:8.2f}x   (target >= 5x)")

    # 3. audit throughput
    rows = as_rows(generate_conversations(size * 2, seed=3))
    for label, backend, mask in (
        ("renderer glm-4.5, sampled", renderer_backend, "sampled"),
        ("chat template, legacy", template_backend, legacy),
    ):
        seconds = best_of(
            max(1, args.repeat // 2), lambda b=backend, m=mask: audit_conversations(rows, m, b)
        )
        print(f"[3] audit, {label}: {len(rows) / seconds:8.0f} conversations/s ({len(rows)} rows)")


if __name__ == "__main__":
    main()
