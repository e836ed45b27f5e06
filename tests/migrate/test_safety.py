"""The checks that stand between a rewrite and the file: each must catch what it is there for."""

from __future__ import annotations

import tomllib

import pytest
from tomlkit import TOMLDocument

from lossmask.migrate import engine, safety
from lossmask.migrate.steps import STEPS, Change, Config, Step, steps_from, v1_to_v2

OLD = '[data]\nname = "x"  # the dataset\nseq_len = 2\n\n[optim]\nlr = 1\n'
GOOD = (
    '[data]\nname = "x"  # the dataset\nseq_len = 2\n\n[data.loss_mask]\nsystem = false\n'
    "user = false\nassistant = true\ntool = false\n\n[optim]\nlr = 1\n"
)


def _verify(new_text: str) -> list[str]:
    _, problems = safety.verify(v1_to_v2.STEP, OLD, tomllib.loads(OLD), new_text)
    return [problem.format() for problem in problems]


SUFFIX = "; the file was left untouched (this is a bug: please report it with the file)"


def test_verify_accepts_a_faithful_rewrite() -> None:
    assert _verify(GOOD) == []


def test_verify_catches_a_key_captured_by_the_new_table() -> None:
    # What tomlkit #145 does: a key that followed the insertion point ends up in the new table.
    captured = GOOD.replace(
        "seq_len = 2\n\n[data.loss_mask]\n", "\n[data.loss_mask]\nseq_len = 2\n"
    )
    assert _verify(captured) == [
        "<string>: data.loss_mask: the rewrite would train { system = false, user = false, "
        "assistant = true, tool = false, seq_len = 2 } under v2 where v1 trained "
        "roles(assistant)" + SUFFIX,
        "<string>: data.seq_len: the rewrite changed a value outside loss_mask" + SUFFIX,
        "<string>: migrating the rewritten text again would change it" + SUFFIX,
    ]


def test_verify_catches_a_changed_meaning() -> None:
    wrong = GOOD.replace("assistant = true", "assistant = false")
    assert _verify(wrong) == [
        "<string>: data.loss_mask: the rewrite would train roles() under v2 where v1 trained "
        "roles(assistant)" + SUFFIX
    ]


def test_verify_catches_a_missing_mask_that_would_become_sampled() -> None:
    assert _verify(OLD) == [
        '<string>: data.loss_mask: the rewrite would train "sampled" under v2 where v1 trained '
        "roles(assistant)" + SUFFIX,
        "<string>: migrating the rewritten text again would change it" + SUFFIX,
    ]


def test_verify_catches_a_lost_comment() -> None:
    assert _verify(GOOD.replace("  # the dataset", "")) == [
        "<string>: the rewrite lost or reordered a comment" + SUFFIX
    ]


def test_verify_catches_text_that_does_not_parse() -> None:
    (message,) = _verify(GOOD + "[data]\n")
    assert message.startswith("<string>: the rewritten text does not parse (Cannot declare")


def test_a_faulty_step_leaves_the_text_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def misplacing_apply(document: TOMLDocument, config: Config, changes: list[Change]) -> None:
        # Appending a table to [optim] instead of [data]: valid TOML, wrong meaning.
        document["optim"]["loss_mask"] = {"assistant": True}

    faulty = Step(1, 2, v1_to_v2.inspect, misplacing_apply, v1_to_v2.differences)
    monkeypatch.setattr(engine, "steps_from", lambda version: (faulty,))
    outcome = engine.migrate_text(OLD, file="f.toml")
    assert outcome.new_text is None
    assert [p.format() for p in outcome.problems] == [
        'f.toml:1: data.loss_mask: the rewrite would train "sampled" under v2 where v1 trained '
        "roles(assistant)" + SUFFIX,
        "f.toml:5: optim.loss_mask: the rewrite changed a value outside loss_mask" + SUFFIX,
        "f.toml: migrating the rewritten text again would change it" + SUFFIX,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a = "# not a comment" # real\n', ["# real"]),
        ("a = '#x' # one\n# two\r\n", ["# one", "# two"]),
        ('a = """\n# inside\n""" # after\n', ["# after"]),
        ("a = '''\n# inside'''\n#end", ["#end"]),
        ('a = "q\\"#" # c\n', ["# c"]),
        ('a = """x\\""" # still inside"""\n', []),
        ('a = """x""""  # after four quotes\n', ["# after four quotes"]),
    ],
)
def test_comments(text: str, expected: list[str]) -> None:
    assert safety.comments(text) == expected


def test_registry_is_an_ordered_chain() -> None:
    assert [(step.from_version, step.to_version) for step in STEPS] == [(1, 2), (2, 3)]
    assert steps_from(1) == STEPS
    with pytest.raises(ValueError, match="cannot migrate from version 3; known versions are 1"):
        steps_from(3)
