"""Line lookup for key paths, on the shapes real configs use."""

from __future__ import annotations

from lossmask.schema.locate import find_line, key_lines

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
