"""Line lookup for key paths, on the shapes real configs use and the ones that used to fool it."""

from __future__ import annotations

import tomllib

import pytest

from lossmask.errors import ConfigError
from lossmask.schema.locate import find_line, key_lines
from lossmask.schema.validation import validate_data

TEXT = '''# comment
max_steps = 5

[model]
name = "x"

[model.lora]
target_modules = [
  "q_proj",
  "fake = 1",
]
rank = 8

[data]
"seq_len" = 3
loss_mask = { assistnt = true, "tool" = false }
notes = """
looks = "like a key"
"""

[[eval.source]]
name = "a"

[[eval.source]]
name = "b"

[trainer.model]
x.y = 1
'''


def test_every_written_key_has_its_line() -> None:
    assert key_lines(TEXT) == {
        ("max_steps",): 2,
        ("model",): 4,
        ("model", "name"): 5,
        ("model", "lora"): 7,
        ("model", "lora", "target_modules"): 8,
        ("model", "lora", "target_modules", 0): 9,
        ("model", "lora", "target_modules", 1): 10,
        ("model", "lora", "rank"): 12,
        ("data",): 14,
        ("data", "seq_len"): 15,
        ("data", "loss_mask"): 16,
        ("data", "loss_mask", "assistnt"): 16,
        ("data", "loss_mask", "tool"): 16,
        ("data", "notes"): 17,
        ("eval",): 21,
        ("eval", "source"): 21,
        ("eval", "source", 0): 21,
        ("eval", "source", 0, "name"): 22,
        ("eval", "source", 1): 24,
        ("eval", "source", 1, "name"): 25,
        ("trainer",): 27,
        ("trainer", "model"): 27,
        ("trainer", "model", "x"): 28,
        ("trainer", "model", "x", "y"): 28,
    }


def test_missing_key_falls_back_to_its_table() -> None:
    assert find_line(TEXT, ("data", "loss_mask", "system")) == 16
    assert find_line(TEXT, ("data", "batch_size")) == 14
    assert find_line(TEXT, ("val", "data")) is None


def test_crlf_text() -> None:
    assert find_line("[data]\r\nloss_mask = 1\r\n", ("data", "loss_mask")) == 2


# Each text puts `[data] batch_size = 0` on line 6 after something that used to shift the count.
BAD_DATA = "[data]\nbatch_size = 0\n"
SHIFTERS = {
    "bracket-in-string": 'name = "a[b"\ntags = ["x[", "y"]\nnote = \'[\'\n\n' + BAD_DATA,
    "bracket-in-multiline-array": 'tags = [\n  "x[",\n  "]y",\n]\n' + BAD_DATA,
    "line-separator-in-comment": "# a \u2028 b\n# c \x85 d\n# e \u2029 f\n\n" + BAD_DATA,
    "line-separator-in-string": 's = "a \u2028 b"\nt = """\n\x85\n"""\n' + BAD_DATA,
    "inline-table-over-lines": 'a = [\n  { b = "[" },\n  { c = "{" },\n]\n' + BAD_DATA,
}


@pytest.mark.parametrize("text", SHIFTERS.values(), ids=SHIFTERS.keys())
def test_lines_count_only_newlines(text: str) -> None:
    assert find_line(text, ("data", "batch_size")) == 6
    # ...and so does the error a user sees.
    with pytest.raises(ConfigError) as raised:
        validate_data(tomllib.loads(text), file="f.toml", text=text)
    assert str(raised.value) == "f.toml:6: data.batch_size: must be greater than 0, not 0"


def test_items_of_arrays_and_inline_tables() -> None:
    text = 'optim.betas = [\n  0.9,\n  2,\n]\nx = [{ a = 1 }, { "b\\u00e9" = { c = [1] } }]\n'
    assert key_lines(text) == {
        ("optim",): 1,
        ("optim", "betas"): 1,
        ("optim", "betas", 0): 2,
        ("optim", "betas", 1): 3,
        ("x",): 5,
        ("x", 0): 5,
        ("x", 0, "a"): 5,
        ("x", 1): 5,
        ("x", 1, "b\u00e9"): 5,
        ("x", 1, "b\u00e9", "c"): 5,
        ("x", 1, "b\u00e9", "c", 0): 5,
    }


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000  # far past Python's recursion limit
    text = "a = " + "{ b = [" * depth + "1" + "] }" * depth + "\n[data]\nz = 1\n"
    assert find_line(text, ("data", "z")) == 3


def test_text_that_is_not_toml_gives_an_answer_without_raising() -> None:
    for text in ['a = "open\n[data]\nz = 1\n', "a = [1, \n", "= 1\n[", "x = { y", "[[\n"]:
        assert isinstance(key_lines(text), dict)
