"""`wanted_lines` (read only the tables that can hold a few keys) against `key_lines` (read every
key): the same line for every key, on the real prime-rl configs and on shapes made to trip it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lossmask.toml_keys import wanted_lines
from lossmask.toml_text import find_line, key_lines

TREE = Path(__file__).parent / "corpus" / "prime-rl-tree"
SHAPES = [
    'a = 1\n[data.loss_mask]\nuser = true\n[data]\nname = "x"\n',  # [data] after a deeper table
    'x = """\n[data]\n"""\n[data]\nname = "y"\n',  # a header-looking line inside a string
    'data.name = "x"\n[model]\nm = 1\n',  # a table written by a dotted key at the top
    '[[eval.source]]\nname = "a"\n[[eval.source]]\nname = "b"\nx = {y = 1, z = [1,\n2]}\n',
    '["quoted key"]\na = 1\n[data]\nname = 1\n',  # quoted headers: read whole
    "[extra.a]\nx = 1\n[extra.b]\ny = 1\n[extra]\nz = 1\n",
    "[ data . loss_mask ] # c\nuser = true\n[ data ]\nname = 1\n",
    "[a.b.c]\nx = 1\n[a.b.d]\n[a]\nq = 1\n[a.b]\ny = 2\n",
    'model = "glm"\n',  # no header at all
]
TEXTS = [path.read_text(encoding="utf-8") for path in sorted(TREE.rglob("*.toml"))] + SHAPES


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_every_key_gets_the_line_a_full_read_gives(text: str) -> None:
    every = key_lines(text)
    missing = [("nothere", "x"), ("data", "nothere"), ("a", "b", "z"), ("extra", "source", "q")]
    for key in [*every, *missing]:
        assert find_line(text, key, lines=wanted_lines(text, [key])) == find_line(
            text, key, lines=every
        ), key
    assert len(wanted_lines(text, list(every)[:3])) <= len(every)
