"""`lossmask train` at its edges: every user mistake is one located line on stderr and exit 2.

Nothing is trained and nothing is written: each of these fails before the model is allocated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lossmask.errors import ConfigError
from lossmask.reference_trainer.data_prep import load_mask_backend, prepare_data
from lossmask.reference_trainer.settings import load_settings
from tests.cli_runner import run_cli

QUESTION = {"role": "user", "content": "What is the weather in Oslo?"}
ANSWER = {"role": "assistant", "content": "Sunny."}
# Where each key is written in the config `_write_config` writes.
CONFIG_LINES = {"model.name": 3, "renderer.name": 6, "data.name": 9, "data.seq_len": 10}


def _write_config(
    tmp_path: Path, data: Path, *, renderer: str = "glm-4.5", model: str = ""
) -> Path:
    config = tmp_path / "run.toml"
    config.write_text(
        "max_steps = 1\n"
        "[model]\n"
        + (f"name = {json.dumps(model)}\n" if model else "# the embedded model\n")
        + "\n"
        "[renderer]\n"
        f"name = {json.dumps(renderer)}\n"
        "\n"
        "[data]\n"
        f"name = {json.dumps(str(data))}\n"
        "seq_len = 512\n"
        "batch_size = 2\n"
        'loss_mask = "sampled"\n',
        encoding="utf-8",
    )
    return config


def _write_rows(tmp_path: Path, rows: list[Any]) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return data


def _train(config: Path, out: Path) -> tuple[int, list[str]]:
    args = ["train", str(config), "--device", "cpu", "--output-dir", str(out)]
    result = run_cli([*args, "--eval-examples", "0", "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert not out.exists(), "a failed run wrote outputs"
    return result.exit_code, result.stderr.splitlines()


def _line(key: str) -> int:
    return CONFIG_LINES[key]


def test_bad_rows_are_each_listed_with_file_line_and_row(tmp_path: Path) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    data = _write_rows(
        tmp_path,
        [
            {"messages": [QUESTION, ANSWER]},
            {"messages": [{"role": "robot", "content": "beep"}, ANSWER]},
            {"messages": [QUESTION, {"role": "assistant", "content": "", "tool_calls": [call]}]},
            {"messages": [QUESTION, {"role": "assistant", "content": 42}]},
            {"messages": [QUESTION, {"role": "assistant", "content": {"text": "hi"}}]},
        ],
    )
    code, stderr = _train(_write_config(tmp_path, data), tmp_path / "out")
    assert code == 2
    # The rows are read by lossmask.data, the reader `show` and `audit` use; its words.
    assert stderr == [
        f'{data}:2: data: row 1: messages[0].role: unknown role "robot" (roles are system, user, '
        "assistant, tool)",
        f"{data}:3: data: row 2: messages[1].tool_calls[0].function.arguments: tool call "
        "arguments are not valid JSON (Expecting property name enclosed in double quotes at "
        "column 2) (write them as a JSON object or a JSON-encoded string of one)",
        f"{data}:4: data: row 3: messages[1].content: must be a string, not a number (42) "
        '(write the text as a string, or as a list of {"type": "text", "text": ...} parts)',
        f'{data}:5: data: row 4: messages[1].content: must be a string, not an object ({{"text": '
        '"hi"}) (write the text as a string, or as a list of {"type": "text", "text": ...} '
        "parts)",
    ]


def test_empty_file_is_said_as_such(tmp_path: Path) -> None:
    data = _write_rows(tmp_path, [])
    config = _write_config(tmp_path, data)
    code, stderr = _train(config, tmp_path / "out")
    # Said by lossmask.data, naming the data file itself.
    assert (code, stderr) == (2, [f"{data}: has no rows (nothing to read here)"])


def test_seq_len_shorter_than_every_prompt_names_the_shortest(tmp_path: Path) -> None:
    long_question = {"role": "user", "content": "Tell me the weather " * 20}
    data = _write_rows(
        tmp_path, [{"messages": [QUESTION, ANSWER]}, {"messages": [long_question, ANSWER]}]
    )
    config = _write_config(tmp_path, data)

    def prepare(seq_len: int) -> int:
        settings, _ = load_settings(config, [f"data.seq_len={seq_len}"], device="cpu")
        backend = load_mask_backend(settings, None)
        return len(prepare_data(settings, backend, lambda _: None).samples)

    with pytest.raises(ConfigError) as caught:
        prepare(4)
    message = caught.value.problems[0].format()
    shortest = int(message.split("shortest: ")[1].split(" ")[0])
    assert message == (
        f"{config}:{_line('data.seq_len')}: data.seq_len: 4 is shorter than every prompt "
        f"(shortest: {shortest} tokens before its first trained token) (raise seq_len to at "
        f"least {shortest})"
    )
    # The number is the boundary: one token less trains nothing, exactly that trains the short one.
    assert prepare(shortest) == 1
    with pytest.raises(ConfigError, match=f"shortest: {shortest} tokens"):
        prepare(shortest - 1)


def test_unknown_renderer_suggests_close_names(tmp_path: Path) -> None:
    config = _write_config(
        tmp_path, _write_rows(tmp_path, [{"messages": [QUESTION, ANSWER]}]), renderer="glm45"
    )
    code, stderr = _train(config, tmp_path / "out")
    assert code == 2
    assert stderr == [
        f"{config}:{_line('renderer.name')}: renderer.name: unknown renderer 'glm45' (did you "
        'mean "glm-4.5"?)'
    ]


def test_hub_model_not_in_the_cache_fails_offline(tmp_path: Path) -> None:
    name = "lossmask-tests/not-a-cached-model"
    config = _write_config(
        tmp_path, _write_rows(tmp_path, [{"messages": [QUESTION, ANSWER]}]), model=name
    )
    code, stderr = _train(config, tmp_path / "out")
    assert code == 2
    assert stderr == [
        f"{config}:{_line('model.name')}: model.name: '{name}' is not a local directory and not "
        "in the local Hugging Face cache; the reference trainer runs offline and never downloads "
        f"models (download it first (`hf download {name}`) or point [model] name at a local "
        "directory)"
    ]


def test_hub_tokenizer_not_in_the_cache_is_located(tmp_path: Path) -> None:
    config = _write_config(tmp_path, _write_rows(tmp_path, [{"messages": [QUESTION, ANSWER]}]))
    with open(config, "a", encoding="utf-8") as handle:
        handle.write('[tokenizer]\nname = "lossmask-tests/not-a-cached-tokenizer"\n')
    code, stderr = _train(config, tmp_path / "out")
    assert code == 2
    assert len(stderr) == 1
    # The message is the mask engine's; the trainer places it at the key and line.
    assert stderr[0].startswith(
        f"{config}:14: tokenizer.name: tokenizer 'lossmask-tests/not-a-cached-tokenizer' is not a "
        "local directory, not in the Hugging Face cache"
    )


def test_checkpoint_directory_without_weights_is_an_error(tmp_path: Path) -> None:
    from transformers import LlamaConfig

    from lossmask.masks import load_tokenizer
    from lossmask.reference_trainer.model import TINY_LLAMA

    checkpoint = tmp_path / "checkpoint"
    tokenizer = load_tokenizer(None)
    LlamaConfig(vocab_size=len(tokenizer), **TINY_LLAMA).save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)  # a saved checkpoint, less its weights
    config = _write_config(
        tmp_path, _write_rows(tmp_path, [{"messages": [QUESTION, ANSWER]}]), model=str(checkpoint)
    )
    code, stderr = _train(config, tmp_path / "out")
    assert code == 2
    assert len(stderr) == 1
    assert stderr[0].startswith(
        f"{config}:{_line('model.name')}: model.name: '{checkpoint}' has no weights "
        "(model.safetensors or model.safetensors.index.json or pytorch_model.bin) but holds "
    )
    assert stderr[0].endswith(
        "it looks like a checkpoint whose weights are missing (copy the weights into it; for a "
        "seeded random init use a directory that holds only config.json)"
    )


def test_resume_names_one_checkpoint_so_one_config(tmp_path: Path) -> None:
    data = _write_rows(tmp_path, [{"messages": [QUESTION, ANSWER]}])
    config = _write_config(tmp_path, data)
    args = ["train", str(config), str(config), "--resume", str(tmp_path / "ckpt")]
    result = run_cli(args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"<string>: --resume {tmp_path / 'ckpt'} names one checkpoint, but 2 configs were given "
        "(resume one config at a time)"
    ]
