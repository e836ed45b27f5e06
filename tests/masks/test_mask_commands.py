"""`show` and `audit` through the real CLI: config -> mask setup, problems on stderr, new checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossmask.masks import generate_conversations, write_jsonl
from lossmask.masks.assets.embedded import build_tiny_tokenizer
from tests.cli_runner import run_cli
from tests.masks.template_shapes import SHAPES

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = str(REPO_ROOT / "examples" / "data" / "weather-tools.jsonl")
SAMPLED_CONFIG = str(REPO_ROOT / "examples" / "configs" / "show" / "glm-sampled.toml")
NOTAGS_CONFIG = str(REPO_ROOT / "examples" / "configs" / "show" / "glm-notags-sampled.toml")


def run(*args: str) -> tuple[int, str, str]:
    result = run_cli(list(args))
    return result.exit_code, result.stdout, result.stderr


def config(tmp_path: Path, body: str, name: str = "c.toml") -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return str(path)


def shape_dir(tmp_path: Path, name: str) -> Path:
    shape = SHAPES[name]
    tokenizer = build_tiny_tokenizer(shape.specials, name, shape.template, eos_token=shape.eos)
    directory = tmp_path / name
    tokenizer.save_pretrained(directory)
    stops = tokenizer.convert_tokens_to_ids(list(shape.serving_stops))
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": stops}))
    return directory


def test_audit_prints_the_serving_prompt_check_per_backend() -> None:
    code, out, err = run("audit", SAMPLED_CONFIG, NOTAGS_CONFIG, "--data", DATA)
    assert code == 0 and err == ""
    # renderers 0.1.12 GLM-4.5: the `\n` after `<|assistant|>` (2 assistant turns x 64 rows) is
    # not marked sampled; lossmask trains it under "sampled".
    assert (
        "serving prompt: 128 tokens after renderer:glm-4.5's generation prompt are not marked "
        "sampled (line 1: '\\n' after '<|assistant|>'); untrained under this mask: 0"
    ) in out
    assert "serving prompt: every token after chat-template's generation prompt is sampled" in out
    rows = [line for line in out.splitlines() if "tool-call turns" in line]
    assert [row.split()[2:4] for row in rows] == [["64", "64"], ["64", "64"]]


def test_audit_and_show_report_generation_tags_that_disagree_with_serving(
    tmp_path: Path,
) -> None:
    directory = shape_dir(tmp_path, "body-tags")
    data = tmp_path / "chat.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]},
        {"messages": [{"role": "user", "content": "A?"}, {"role": "assistant", "content": "B."}]},
    ]
    write_jsonl(rows, data)
    body = f'[tokenizer]\nname = "{directory.as_posix()}"\n\n[data]\nloss_mask = "sampled"\n'
    path = config(tmp_path, body)
    code, out, _ = run("audit", path, "--data", str(data))
    assert code == 0
    assert (
        "generation tags: {% generation %} disagrees with serving on 2 tokens in 2 conversations "
        "(line 1: '<|im_end|>' is outside the tags, but serving samples it)"
    ) in out
    code, out, _ = run("show", path, "--data", str(data), "--no-color")
    assert code == 0
    assert "[[Yo<|im_end|>⚑]]" in out
    assert "⚑ after 1 tokens: the template's {% generation %} tags disagree" in out


def test_a_template_that_raises_is_a_row_error_with_its_line(tmp_path: Path) -> None:
    directory = shape_dir(tmp_path, "llama-3.1")
    conversations = generate_conversations(40, seed=2)
    two_calls = next(
        i
        for i, c in enumerate(conversations)
        if any(len(m.get("tool_calls") or []) == 2 for m in c["messages"])
    )
    one_call = next(
        i
        for i, c in enumerate(conversations)
        if i != two_calls and all(len(m.get("tool_calls") or []) <= 1 for m in c["messages"])
    )
    data = tmp_path / "rows.jsonl"
    write_jsonl([conversations[one_call], conversations[two_calls], conversations[one_call]], data)
    body = f'[tokenizer]\nname = "{directory.as_posix()}"\n\n[data]\nloss_mask = "sampled"\n'
    path = config(tmp_path, body)
    code, out, err = run("audit", path, "--data", str(data))
    assert code == 1
    assert "conversations 3, samples 2," in out and "errors 1" in out
    assert err == (
        f"{data}:2: row 1: the chat template raised an error: This model only supports single "
        "tool-calls at once!\n"
    )
    code, out, err = run("show", path, "--data", str(data), "--index", "1")
    assert code == 1 and out == ""
    assert err.startswith(f"{data}:2: row 1: the chat template raised an error")
    assert "Traceback" not in out + err


def test_show_and_audit_read_the_model_name_like_train(tmp_path: Path) -> None:
    body = (
        '[model]\nname = "embedded:tiny-llama"\n\n[renderer]\nname = "glm-4.5"\n\n'
        '[data]\nloss_mask = "sampled"\n'
    )
    path = config(tmp_path, body)
    code, out, err = run("show", path, "--data", DATA, "--no-color")
    assert code == 0, err
    assert '"sampled" on renderer glm-4.5 (embedded tokenizer)' in out
    code, _, err = run("audit", path, "--data", DATA)
    assert code == 0 and err == ""


def test_warnings_are_problem_lines_on_stderr(tmp_path: Path) -> None:
    body = '[renderer]\nname = "glm-4.5"\n\n[data]\nloss_mask = { assistant = true, tool = true }\n'
    path = config(tmp_path, body)
    code, out, err = run("audit", path, "--data", DATA)
    assert code == 0
    assert err == (
        f"{path}: data.loss_mask: warning: loss_mask roles(assistant, tool) enables 'tool', but "
        "no tool token was trained (a renderer never marks tool results as sampled)\n"
    )
    assert "warning:" not in out


@pytest.mark.parametrize("command", ["show", "audit"])
def test_backend_errors_exit_2_as_problem_lines(tmp_path: Path, command: str) -> None:
    body = '[tokenizer]\nname = "embedded:llama-9"\n\n[data]\nloss_mask = "sampled"\n'
    path = config(tmp_path, body)
    code, out, err = run(command, path, "--data", DATA)
    assert code == 2 and out == ""
    assert err.startswith(f"{path}: no embedded tokenizer for 'llama-9'; choose from embedded:")


def test_a_tokenizer_with_no_serving_stop_is_a_config_error(tmp_path: Path) -> None:
    shape = SHAPES["body-tags"]
    tokenizer = build_tiny_tokenizer(shape.specials, "no-eos", shape.template, eos_token=shape.eos)
    tokenizer.eos_token = None
    directory = tmp_path / "no-eos"
    tokenizer.save_pretrained(directory)
    body = f'[tokenizer]\nname = "{directory.as_posix()}"\n\n[data]\nloss_mask = "sampled"\n'
    path = config(tmp_path, body)
    code, out, err = run("audit", path, "--data", DATA)
    assert code == 2 and out == ""
    assert "has no generation_config.json eos_token_id and no EOS token" in err


def test_a_template_that_renders_nothing_is_a_row_error(tmp_path: Path) -> None:
    shape = SHAPES["body-tags"]
    silent = "{%- for m in messages -%}{%- endfor -%}"
    tokenizer = build_tiny_tokenizer(shape.specials, "silent", silent, eos_token=shape.eos)
    directory = tmp_path / "silent"
    tokenizer.save_pretrained(directory)
    body = f'[tokenizer]\nname = "{directory.as_posix()}"\n\n[data]\nloss_mask = "sampled"\n'
    path = config(tmp_path, body)
    data = tmp_path / "one.jsonl"
    write_jsonl(generate_conversations(2, seed=1), data)
    code, out, err = run("audit", path, "--data", str(data))
    assert code == 1 and "errors 2" in out
    # One line per reason, not one per row; the report ends with the count by reason.
    assert err.splitlines() == [
        f"{data}:1: row 0: the chat template rendered nothing for this conversation "
        "(and 1 more row like it)"
    ]
    assert out.splitlines()[-2:] == [
        "  refused: 2 rows could not be read or masked exactly (the others are audited):",
        "        2  the chat template rendered nothing for this conversation (first: line 1)",
    ]


def test_show_ids_lists_every_target_the_trainer_sees(tmp_path: Path) -> None:
    from lossmask.masks import build_sample, generate_conversations, load_backend

    data = tmp_path / "one.jsonl"
    write_jsonl(generate_conversations(2, seed=4), data)
    config = tmp_path / "c.toml"
    config.write_text('[renderer]\nname = "glm-4.5"\n\n[data]\nloss_mask = "sampled"\n')
    code, out, _ = run("show", str(config), "--data", str(data), "--index", "1", "--ids")
    assert code == 0
    table = out.split("position     id  trained  token\n", 1)[1].splitlines()
    rows = [line.split(maxsplit=3) for line in table]
    conversation = generate_conversations(2, seed=4)[1]
    # The reference: the renderer path's sample, whose parity with renderers'
    # build_training_sample is asserted in test_mask_parity.py.
    sample = build_sample(conversation, "sampled", load_backend(renderer="glm-4.5"), 2048)
    assert [int(row[1]) for row in rows] == sample.target_ids
    assert [row[2] == "yes" for row in rows] == list(sample.loss_mask)


def test_set_overrides_a_config_key_and_warnings_are_said_once(tmp_path: Path) -> None:
    data = tmp_path / "one.jsonl"
    write_jsonl(generate_conversations(2, seed=4), data)
    config = tmp_path / "c.toml"
    config.write_text('[data]\nfoo = 1\nloss_mask = "sampled"\n')
    code, out, err = run(
        "audit", str(config), "--data", str(data), "--set", "tokenizer.name=embedded:glm-4.5-notags"
    )
    assert code == 0
    assert f'{config}: "sampled" on chat-template' in out
    assert err.splitlines() == [
        f"{config}:2: data.foo: warning: unknown key in table [data]; lossmask keeps it but does "
        "not check or use it"
    ]
    code, _, err = run("audit", str(config), "--data", str(data), "--set", "data.loss_mask=3")
    assert code == 2 and err.startswith(f"{config}:3: data.loss_mask: ")
