"""(before, after) pairs for every shape the v1 -> v2 step handles, and texts it leaves alone."""

from __future__ import annotations

import tomllib

import pytest
import tomlkit
from tomlkit.exceptions import TOMLKitError

from lossmask.migrate import engine
from lossmask.migrate.engine import migrate_text

MISSING = '# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
LEGACY_LINES = "system = false\nuser = false\nassistant = true\ntool = false\n"
LEGACY_INLINE = "{ system = false, user = false, assistant = true, tool = false }"

GOLDEN: dict[str, tuple[str, str]] = {
    "table-between-tables": (
        '[model]\nname = "m"\n\n[data]\nname = "x"\nseq_len = 2\n\n[optim]\nlr = 1\n',
        '[model]\nname = "m"\n\n[data]\nname = "x"\nseq_len = 2\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES
        + "\n[optim]\nlr = 1\n",
    ),
    "table-last-without-final-newline": (
        '[data]\nname = "x"\nseq_len = 2',
        '[data]\nname = "x"\nseq_len = 2\n\n' + MISSING + "[data.loss_mask]\n" + LEGACY_LINES[:-1],
    ),
    "table-before-its-sub-table-comments-split-at-blank-line": (
        '[data]\nname = "x"\n# a note about data\n\n# about extra\n[data.extra]\na = 1\n',
        '[data]\nname = "x"\n# a note about data\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES
        + "\n# about extra\n[data.extra]\na = 1\n",
    ),
    "table-before-array-of-tables": (
        '[data]\nname = "x"\n[[data.sources]]\nname = "a"\n',
        '[data]\nname = "x"\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES
        + '\n[[data.sources]]\nname = "a"\n',
    ),
    "data-and-val-data": (
        '[data]\nname = "x"\n\n[val.data]\nname = "y"\n\n[val]\ninterval = 2\n',
        '[data]\nname = "x"\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES
        + '\n[val.data]\nname = "y"\n\n'
        + MISSING
        + "[val.data.loss_mask]\n"
        + LEGACY_LINES
        + "\n[val]\ninterval = 2\n",
    ),
    "empty-data-table": (
        "[data]\n\n[optim]\n",
        "[data]\n" + MISSING + "[data.loss_mask]\n" + LEGACY_LINES + "\n[optim]\n",
    ),
    "data-only-implied-by-a-sub-table": (
        "[data.extra]\na = 1\n",
        MISSING + "[data.loss_mask]\n" + LEGACY_LINES + "\n[data.extra]\na = 1\n",
    ),
    "data-defined-after-its-sub-table": (
        '[data.extra]\na = 1\n[optim]\nlr = 1\n[data]\nname = "x"\n',
        '[data.extra]\na = 1\n[optim]\nlr = 1\n[data]\nname = "x"\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES,
    ),
    "quoted-keys": (
        '["data"]\n"name" = "x"\n',
        '["data"]\n"name" = "x"\n\n' + MISSING + "[data.loss_mask]\n" + LEGACY_LINES,
    ),
    "dotted-data-at-root": (
        'max_steps = 1\ndata.name = "x"\ndata.seq_len = 2\n\n[optim]\nlr = 1\n',
        'max_steps = 1\ndata.name = "x"\ndata.seq_len = 2\n'
        + MISSING
        + "data.loss_mask.system = false\ndata.loss_mask.user = false\n"
        + "data.loss_mask.assistant = true\ndata.loss_mask.tool = false\n"
        + "\n[optim]\nlr = 1\n",
    ),
    "dotted-data-last-line-without-newline": (
        'data.type = "sft"',
        'data.type = "sft"\n'
        + MISSING
        + "data.loss_mask.system = false\ndata.loss_mask.user = false\n"
        + "data.loss_mask.assistant = true\ndata.loss_mask.tool = false",
    ),
    "inline-data-spaced": (
        'data = { name = "x", seq_len = 2 }\n',
        MISSING + f'data = {{ name = "x", seq_len = 2, loss_mask = {LEGACY_INLINE} }}\n',
    ),
    "inline-data-tight-with-comment": (
        'data = {name = "x"}  # keep\n',
        MISSING + 'data = {name = "x", loss_mask = {system = false, user = false, '
        "assistant = true, tool = false}}  # keep\n",
    ),
    "inline-data-under-val": (
        '[val]\ndata = { name = "y" }\n',
        "[val]\n" + MISSING + f'data = {{ name = "y", loss_mask = {LEGACY_INLINE} }}\n',
    ),
    "indented-file-keeps-its-indentation": (
        '[data]\n  name = "x"\n  [data.extra]\n  a = 1\n',
        '[data]\n  name = "x"\n\n  '
        + MISSING
        + "  [data.loss_mask]\n"
        + "".join("  " + line + "\n" for line in LEGACY_LINES.splitlines())
        + "\n  [data.extra]\n  a = 1\n",
    ),
    "next-header-directly-after-the-table": (
        '[data]\nname = "x"\n[optim]\nlr = 1\n',
        '[data]\nname = "x"\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES
        + "\n[optim]\nlr = 1\n",
    ),
    "crlf": (
        '[data]\r\nname = "x"\r\n\r\n[optim]\r\nlr = 1\r\n',
        '[data]\r\nname = "x"\r\n\r\n'
        + MISSING.replace("\n", "\r\n")
        + "[data.loss_mask]\r\n"
        + LEGACY_LINES.replace("\n", "\r\n")
        + "\r\n[optim]\r\nlr = 1\r\n",
    ),
    "crlf-without-final-newline": (
        '[data]\r\nname = "x"',
        '[data]\r\nname = "x"\r\n\r\n'
        + MISSING.replace("\n", "\r\n")
        + "[data.loss_mask]\r\n"
        + LEGACY_LINES.replace("\n", "\r\n")[:-2],
    ),
    "last-line-is-a-comment-without-newline": (
        '[data]\nname = "x"  # end',
        '[data]\nname = "x"  # end\n\n' + MISSING + "[data.loss_mask]\n" + LEGACY_LINES[:-1],
    ),
    # tomlkit #145: a table put into a table captured the keys after it. Every key of [data] must
    # stay in [data]; the new table goes after them.
    "tomlkit-145-keys-after-insertion-point": (
        '[data]\nname = "x" # comment\nseq_len = 2\nbatch_size = 3\n',
        '[data]\nname = "x" # comment\nseq_len = 2\nbatch_size = 3\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES,
    ),
    # tomlkit #588 / #543: a dotted-key table promoted to a header swallowed the root keys after it.
    "tomlkit-588-dotted-data-then-root-key": (
        'data.name = "x"\nmax_steps = 2\n',
        'data.name = "x"\n'
        + MISSING
        + "data.loss_mask.system = false\ndata.loss_mask.user = false\n"
        + "data.loss_mask.assistant = true\ndata.loss_mask.tool = false\nmax_steps = 2\n",
    ),
    "tomlkit-588-dotted-data-under-val-then-key": (
        '[val]\ndata.name = "x"\ninterval = 2\n',
        '[val]\ndata.name = "x"\n'
        + MISSING
        + "data.loss_mask.system = false\ndata.loss_mask.user = false\n"
        + "data.loss_mask.assistant = true\ndata.loss_mask.tool = false\ninterval = 2\n",
    ),
}

NO_OP: dict[str, str] = {
    "empty-file": "",
    "only-comments": "# nothing here\n",
    "full-table": "[data]\nname = 'x'\n\n[data.loss_mask]\n" + LEGACY_LINES,
    "full-table-non-default": "[data.loss_mask]\nsystem = true\nuser = true\nassistant = false\n"
    "tool = true\n",
    "full-inline": f"data = {{ loss_mask = {LEGACY_INLINE} }}\n",
    "sampled": '[data]\nloss_mask = "sampled"\n',
    "all": '[data]\nloss_mask = "all"\n',
    "fake-data": '[data]\ntype = "fake"\nbatch_size = 2\n',
    "rl-fake-loader": "max_steps = 5\n\n[data.fake]\nbatch_size = 2\n",
    "other-data-type": '[data]\ntype = "rl"\nname = "x"\n',
    "overlay-without-data": '[slurm]\njob_name = "x"\n',
    "rl-config": "[orchestrator]\nbatch_size = 8\n\n[trainer.optim]\nlr = 1e-6\n",
    "val-without-data": "[val]\ninterval = 10\n",
    "partial-table-with-comments": (
        "# above\n[data.loss_mask] # beside the header\n# inside\nassistant = true # beside\n\n"
        "[optim]\n"
    ),
    "partial-table-after-other-tables": (
        '[data]\nname = "x"\n\n[optim]\nlr = 1\n\n[data.loss_mask]\nuser = true\n'
    ),
    "partial-dotted-under-data": ('[data]\nname = "x"\nloss_mask.user = true\n\n[optim]\n'),
    "partial-dotted-at-root": ('data.name = "x"\ndata.loss_mask.tool = true\n'),
    "partial-dotted-indented": ('[data]\n  name = "x"\n  loss_mask.user = true\n'),
    "partial-inline": ('[data]\nloss_mask = { assistant = true }  # mine\nname = "x"\n'),
    "partial-val-data-dotted-and-data-table": (
        '[data]\nname = "x"\n[optim]\n[data.loss_mask]\nuser = true\n[val.data]\n'
        "loss_mask.tool = true\n"
    ),
    "crlf-full-table": "[data.loss_mask]\r\n" + LEGACY_LINES.replace("\n", "\r\n"),
}


@pytest.mark.parametrize(("before", "after"), GOLDEN.values(), ids=GOLDEN.keys())
def test_golden_pair(before: str, after: str) -> None:
    outcome = migrate_text(before)
    assert outcome.problems == []
    assert outcome.new_text == after


@pytest.mark.parametrize(("before", "after"), GOLDEN.values(), ids=GOLDEN.keys())
def test_golden_output_is_a_fixed_point(before: str, after: str) -> None:
    outcome = migrate_text(after)
    assert outcome.problems == []
    assert outcome.new_text is None


@pytest.mark.parametrize("text", NO_OP.values(), ids=NO_OP.keys())
def test_no_op(text: str) -> None:
    outcome = migrate_text(text)
    assert outcome.problems == []
    assert outcome.new_text is None
    assert outcome.changes == []


ERRORS: dict[str, tuple[str, str]] = {
    "unknown-role": (
        '[data]\nname = "x"\n\n[data.loss_mask]\nassistnt = true\n',
        'f.toml:5: data.loss_mask.assistnt: unknown role "assistnt" (valid roles are system, '
        'user, assistant, tool; did you mean "assistant"?)',
    ),
    "wrong-type": (
        '[data.loss_mask]\nassistant = "yes"\n',
        'f.toml:2: data.loss_mask.assistant: must be true or false, not "yes"',
    ),
    "unknown-mode": (
        '[data]\nloss_mask = "sample"\n',
        'f.toml:2: data.loss_mask: must be "sampled", "all" or a table of roles, not "sample" '
        '(did you mean "sampled"?)',
    ),
    "val-data-dotted-typo": (
        "[val]\ndata.loss_mask.tol = true\n",
        'f.toml:2: val.data.loss_mask.tol: unknown role "tol" (valid roles are system, user, '
        'assistant, tool; did you mean "tool"?)',
    ),
}


@pytest.mark.parametrize(("text", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_error(text: str, message: str) -> None:
    outcome = migrate_text(text, file="f.toml")
    assert outcome.new_text is None
    assert [problem.format() for problem in outcome.problems] == [message]


# tomlkit #571: tomlkit 0.15.1 and 0.15.2 reject this valid out-of-order layout (pyproject.toml
# excludes both). Whatever tomlkit is installed, lossmask either rewrites it exactly, with the
# meaning proved, or refuses it with its message; the refusal itself is pinned by the next test
# on any tomlkit.
OUT_OF_ORDER = '[data]\nname = "x"\n[data.extra.a]\n[data.extra]\n[optim]\n[data.extra.b]\n'


def test_out_of_order_layout_is_rewritten_exactly_or_refused() -> None:
    outcome = migrate_text(OUT_OF_ORDER, file="f.toml")
    try:
        tomlkit.parse(OUT_OF_ORDER)
    except TOMLKitError as exc:
        assert outcome.new_text is None
        assert [problem.format() for problem in outcome.problems] == [
            f"f.toml: cannot rewrite this file with tomlkit: {exc} (add the loss_mask table by "
            "hand; `lossmask migrate --check` verifies it)"
        ]
        return
    assert outcome.problems == []
    assert outcome.new_text == (
        '[data]\nname = "x"\n\n'
        + MISSING
        + "[data.loss_mask]\n"
        + LEGACY_LINES
        + "\n[data.extra.a]\n[data.extra]\n[optim]\n[data.extra.b]\n"
    )
    # The composed meaning: v1's implicit default is now written, every other key is unchanged.
    old, new = tomllib.loads(OUT_OF_ORDER), tomllib.loads(outcome.new_text)
    assert new["data"].pop("loss_mask") == {
        "system": False,
        "user": False,
        "assistant": True,
        "tool": False,
    }
    assert new == old


def test_a_file_tomlkit_cannot_parse_is_reported_and_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(text: str) -> None:
        raise tomlkit.exceptions.ParseError(6, 0, 'Key "extra" already exists.')

    monkeypatch.setattr(engine.tomlkit, "parse", refuse)
    outcome = migrate_text('[data]\nname = "x"\n', file="f.toml")
    assert outcome.new_text is None
    assert [problem.format() for problem in outcome.problems] == [
        'f.toml: cannot rewrite this file with tomlkit: Key "extra" already exists. at line 6 '
        "col 0 (add the loss_mask table by hand; `lossmask migrate --check` verifies it)"
    ]
