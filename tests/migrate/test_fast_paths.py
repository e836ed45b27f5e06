"""The shortcuts that make `migrate` fast give exactly what the plain ways gave.

Each fast path is compared with a slow reference: the partial tomlkit parse with the whole-text
parse, the regex comment scanner with the per-character one it replaced, the copy-free comparison
with known answers, and the `scandir` discovery with the `iter_toml_files` one.
"""

from __future__ import annotations

import math
import os
import random
import sys
import tomllib
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossmask import toml_text
from lossmask.errors import Problem
from lossmask.migrate import engine, files, fragment, safety
from lossmask.migrate.compare import first_difference
from lossmask.migrate.engine import Outcome, migrate_text
from lossmask.paths import iter_toml_files
from tests.migrate.test_golden import ERRORS, GOLDEN, NO_OP
from tests.migrate.test_property import configs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import migrate_bench

# --- which blocks tomlkit sees -------------------------------------------------------------------


def _at(text: str, *headers: str) -> list[tuple[int, str]]:
    return [(text.index(header), header.strip(" []").split(".")[0].strip()) for header in headers]


HEADER_CASES = {
    "plain": ("a = 1\n[data]\nx = 1\n[[eval.source]]\n", ["[data]", "[[eval"]),
    "header-in-multiline-string": ('s = """\n[data]\n"""\n[model]\n', ["[model]"]),
    "header-in-literal-multiline": ("s = '''\n[data]\n'''\n[model]\n", ["[model]"]),
    "nested-array-rows": ("a = [\n  [1, 2],\n  [3],\n]\n[data]\n", ["[data]"]),
    "comments-and-strings": ('# [data]\nk = "[x]" # [y]\n  [ model . lora ] # ]\n', ["  [ model"]),
    "escaped-quote": ('k = "a\\"[b"\n[data]\n', ["[data]"]),
    "crlf": ("a = 1\r\n[data]\r\nx = 1\r\n", ["[data]"]),
}


@pytest.mark.parametrize(("text", "expected"), HEADER_CASES.values(), ids=HEADER_CASES.keys())
def test_headers(text: str, expected: list[str]) -> None:
    assert fragment.headers(text) == _at(text, *expected)


@pytest.mark.parametrize("text", ['["data"]\nx = 1\n', "['data'.x]\n", '[a."b"]\n'])
def test_quoted_headers_are_left_to_the_whole_text_parse(text: str) -> None:
    assert fragment.headers(text) is None
    assert fragment.span(text, {"data"}) is None


def test_span() -> None:
    text = 'x = 1\n\n[data]\nname = "n"\n\n[optim]\nlr = 1\n\n[data.extra]\na = 1\n\n[eval]\n'
    assert fragment.span(text, {"data"}) == (text.index("[data]"), text.index("[eval]"))
    assert fragment.span(text, {"val"}) is None
    # The root block can write under any name: when it may, the run starts at the top.
    for root in ('data.name = "n"\n', "# data notes\n", '"d\\u0061ta".name = "n"\n'):
        assert fragment.span(root + text, {"data"}) == (0, len(root + text) - len("[eval]\n"))


# --- the partial parse gives what the whole-text parse gave --------------------------------------

TRICKY = [
    '[val]\ndata.name = "v"\n\n[optim]\nlr = 1\n\n[val.data.loss_mask]\nuser = true\n',
    '[data]\nname = "x"\n\n[optim]\nlr = 1\n\n[data.loss_mask]\nsystem = true\n\n[eval]\nn = 1\n',
    '[model]\ndoc = """\n[data]\nname = 1\n"""\n\n[data]\nname = "x"\n\n[optim]\nlr = 1\n',
    "[model]\nm = [\n  [1, 2],\n  [3],\n]\n\n[data]\nseq_len = 2\n\n[optim]\nlr = 1\n",
    '[model]\nname = "m"\r\n\r\n[data]\r\nname = "x"\r\n\r\n[optim]\r\nlr = 1',
    '[model]\nname = "m"\n\n[data]\nname = "x"',
    'data = { name = "x" }\n\n[model]\nname = "m"\n',
    '"d\\u0061ta".name = "x"\n\n[model]\nname = "m"\n',
    '["data"]\nname = "x"\n\n[model]\nname = "m"\n',
    '[model]\nname = "m"\n\n[data]\nname = "x"\n\n[[data.sources]]\nname = "a"\n\n[optim]\n',
    '[model]\nname = "m"\n\n[val.data.extra]\na = 1\n\n[optim]\nlr = 1\n',
    '[model]\nname = "m"\n\n[val.other]\na = 1\n\n[optim]\n\n[val.data.extra]\na = 1\n',
    "[a]\nx = 1\n[data]\nloss_mask = { assistant = true }\n[b]\ny = 2\n",
    "[a]\nx = 1\n[data]\nloss_mask.tool = true\n[b]\ny = 2\n",
    "[a]\n  x = 1\n  [data]\n  name = 'x'\n  [data.loss_mask]\n  user = true\n[b]\n",
]


def _both(text: str) -> tuple[Outcome, Outcome]:
    fast = migrate_text(text, file="f.toml")
    with mock.patch.object(engine, "_rewrite_part", lambda *args: None):
        whole = migrate_text(text, file="f.toml")
    return fast, whole


def _same(fast: Outcome, whole: Outcome) -> None:
    assert fast.new_text == whole.new_text
    assert fast.changes == whole.changes
    assert [p.format() for p in fast.problems] == [p.format() for p in whole.problems]


def _texts() -> Iterable[str]:
    yield from (before for before, _ in GOLDEN.values())
    yield from NO_OP.values()
    yield from (text for text, _ in ERRORS.values())
    yield from TRICKY
    rng = random.Random(0)
    yield from (migrate_bench.config_text(index, rng) for index in range(60))


@pytest.mark.parametrize("text", list(_texts()))
def test_partial_parse_gives_the_whole_text_result(text: str) -> None:
    _same(*_both(text))


def test_partial_parse_is_taken_for_a_typical_config() -> None:
    text = (
        migrate_bench.HEADER.format(title="t", steps=1, interval=1, size="8", rank=8)
        + migrate_bench.DATA.format(index=1, seq_len=1, batch=1)
        + migrate_bench.TAIL.format(lr="1")
    )
    taken: list[object] = []
    real = engine._rewrite_part

    def spy(*args: Any) -> object:
        taken.append(real(*args))
        return taken[-1]

    with mock.patch.object(engine, "_rewrite_part", spy):
        outcome = migrate_text(text)
    assert outcome.new_text is not None and taken and taken[0] is not None


def test_a_failed_partial_rewrite_falls_back_to_the_whole_text() -> None:
    text = '[model]\nname = "m"\n\n[data]\nname = "x"\n\n[optim]\nlr = 1\n'
    calls: list[int] = []
    real_verify = safety.verify_meaning

    def verify_once_refused(*args: Any) -> Any:
        calls.append(1)
        return [Problem("refused")] if len(calls) == 1 else real_verify(*args)

    with mock.patch.object(safety, "verify_meaning", verify_once_refused):
        outcome = migrate_text(text)
    assert len(calls) == 2
    assert outcome.problems == [] and outcome.new_text == _both(text)[1].new_text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_partial_parse_gives_the_whole_text_result_on_generated_configs(
    generated: tuple[str, list[str]],
) -> None:
    _same(*_both(generated[0]))


# --- the checks on a part give the dict of the whole new text ----------------------------------


def _checked_parts(text: str) -> list[tuple[Any, str]]:
    """(dict `verify_part` gave, the whole new text) for each part it was asked to check."""
    seen: list[tuple[Any, str]] = []
    real = safety.verify_part

    def spy(text: str, old: Any, bounds: Any, following: str, new_part: str, names: Any) -> Any:
        result = real(text, old, bounds, following, new_part, names)
        seen.append((result, text[: bounds[0]] + new_part + text[bounds[1] :]))
        return result

    with mock.patch.object(safety, "verify_part", spy):
        migrate_text(text, file="f.toml")
    return seen


@pytest.mark.parametrize("text", list(_texts()))
def test_a_part_that_passes_gives_the_dict_of_the_whole_new_text(text: str) -> None:
    for checked, whole in _checked_parts(text):
        if checked is not None:
            assert checked == tomllib.loads(whole)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_a_part_that_passes_gives_the_dict_of_the_whole_new_text_on_generated_configs(
    generated: tuple[str, list[str]],
) -> None:
    for checked, whole in _checked_parts(generated[0]):
        if checked is not None:
            assert checked == tomllib.loads(whole)


def test_the_part_checks_are_used_on_the_benchmark_configs() -> None:
    rng = random.Random(0)
    texts = [migrate_bench.config_text(index, rng) for index in range(60)]
    changed = [text for text in texts if migrate_text(text).new_text is not None]
    assert len(changed) == 12
    # Each rewrite passed the checks on its part, so its whole new text was not parsed again.
    for text in changed:
        assert [checked is not None for checked, _ in _checked_parts(text)] == [True]


PART_TEXT = '# notes\nmax_steps = 1\n\n[data]\nname = "x"\n\n[model]\nname = "m"\n'
PART_END = PART_TEXT.index("[model]")


@pytest.mark.parametrize(
    ("new_part", "why"),
    [
        ('# notes\nmax_steps = 2\n\n[data]\nname = "x"\n\n', "a root key changed"),
        ('# notes\nmax_steps = 1\n[data]\nname = "x"\n\n', "the root lines changed"),
        ('max_steps = 1\n\n[data]\nname = "x"\n\n', "a comment was lost"),
        ('# notes\nmax_steps = 1\n\n[data]\nname = "x\n\n', "the part does not parse"),
        ('# notes\nmax_steps = 1\n\n[data]\nname = "x"\n\n[model.x]\n', "a key outside"),
    ],
)
def test_a_part_that_cannot_be_shown_safe_is_refused(new_part: str, why: str) -> None:
    old = tomllib.loads(PART_TEXT)
    bounds, following = (0, PART_END), "[model]\n"
    assert safety.verify_part(PART_TEXT, old, bounds, following, new_part, {"data"}) is None, why
    good = '# notes\nmax_steps = 1\n\n[data]\nname = "x"\nseq_len = 2\n\n'
    expected = {"max_steps": 1, "data": {"name": "x", "seq_len": 2}, "model": {"name": "m"}}
    assert safety.verify_part(PART_TEXT, old, bounds, following, good, {"data"}) == expected
    # The same edit is refused when `data` is not a key the edit was to touch.
    assert safety.verify_part(PART_TEXT, old, bounds, following, good, {"val"}) is None


# --- the comment scanner -------------------------------------------------------------------------


def _reference_comments(text: str) -> list[str]:
    """The scanner as it was, with a loop per character in one-line strings."""

    def end_of_string(position: int, quote: str) -> int:
        while position < len(text) and text[position] not in (quote, "\n"):
            position += 2 if quote == '"' and text[position] == "\\" else 1
        return position + 1

    found: list[str] = []
    position = 0
    while True:
        match = toml_text._COMMENT_OR_STRING.search(text, position)
        if match is None:
            return found
        position, token = match.start(), match.group()
        if token == "#":
            end = text.find("\n", position)
            end = len(text) if end < 0 else end
            found.append(text[position:end].rstrip("\r"))
            position = end
        elif len(token) == 3:
            position = toml_text.end_of_multiline(text, position + 3, token)
        else:
            position = end_of_string(position + 1, token)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=list("\"'#\\\n\r[]a= "), max_size=60))
def test_comment_scanner_matches_the_per_character_one(text: str) -> None:
    assert safety.comments(text) == _reference_comments(text)


# --- the comparison without copies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "skip", "expected"),
    [
        ({"a": 1}, {"a": 1.0}, None, ("a",)),
        ({"a": True}, {"a": 1}, None, ("a",)),
        ({"a": [1, {"b": math.nan}]}, {"a": [1, {"b": math.nan}]}, None, None),
        ({"a": [1, 2]}, {"a": [1]}, None, ("a",)),
        ({"a": date(2020, 1, 1)}, {"a": date(2020, 1, 1)}, None, None),
        ({"a": 1}, {"a": 1, "b": 2}, None, ("b",)),
        ({"a": 1, "b": 2}, {"a": 1}, None, ("b",)),
        ({"data": {"loss_mask": {}, "x": 1}}, {"data": {"x": 1}}, ({("data",)}, set()), None),
        ({"data": {"x": 1}}, {"data": {"x": 1, "loss_mask": "all"}}, (set(), {("data",)}), None),
        ({"data": {"x": 1}}, {"data": {"x": 1, "loss_mask": "all"}}, None, ("data", "loss_mask")),
        (
            {"data": {"loss_mask": 1}},
            {"data": {"loss_mask": 1}},
            ({("data",)}, set()),
            ("data", "loss_mask"),
        ),
        (
            {"x": {"loss_mask": 1}},
            {"x": {"loss_mask": 2}},
            ({("data",)}, {("data",)}),
            ("x", "loss_mask"),
        ),
    ],
)
def test_first_difference(old: Any, new: Any, skip: Any, expected: Any) -> None:
    sets = (frozenset(skip[0]), frozenset(skip[1])) if skip else (frozenset(), frozenset())
    assert first_difference(old, new, skip=sets) == expected


# --- discovery -----------------------------------------------------------------------------------


def _reference_discover(paths: Iterable[str]) -> list[files.FileJob]:
    """`discover` as it was, over `iter_toml_files`."""
    jobs: list[files.FileJob] = []
    seen: set[str] = set()
    for candidate in iter_toml_files(paths):
        path = str(candidate)
        if candidate.is_symlink():
            target = os.path.realpath(path)
            if not os.path.exists(target):
                problem = Problem(
                    f"dangling symbolic link: its target {target} does not exist",
                    file=path,
                    suggestion="fix or remove the link",
                )
                jobs.append(files.FileJob(path, target, problem))
                continue
        else:
            target = os.path.abspath(path)
            if not os.path.lexists(path):
                jobs.append(
                    files.FileJob(path, target, Problem("no such file or directory", file=path))
                )
                continue
        if target in seen:
            continue
        seen.add(target)
        jobs.append(files.FileJob(path, target))
    return jobs


def test_discovery_matches_iter_toml_files(toml_tree: Path) -> None:
    for paths in (
        [str(toml_tree)],
        ["."],
        ["./sub/", "a.toml", "missing.toml", "sub//deeper"],
        ["link.toml", "a.toml", "dangling.toml", "linked-dir"],
    ):
        assert files.discover(paths) == _reference_discover(paths), paths


def test_discovery_yields_each_directory_as_it_is_listed(toml_tree: Path) -> None:
    (toml_tree / "run.sh").write_text("uv run sft @ a.toml\n")
    (toml_tree / "sub" / "notes.md").write_text("")
    discovery = files.Discovery(["."], launch_roots=["."])
    walking = iter(discovery)
    assert next(walking).path == "a.toml"
    # Only the top directory has been listed so far: not yet sub/, whose notes.md comes later.
    assert discovery.launch_files == ["run.sh"]
    rest = [job.path for job in walking]
    assert (
        ["a.toml", *rest]
        == [job.path for job in discovery.jobs]
        == [job.path for job in files.discover(["."])]
    )
    assert discovery.launch_files == ["run.sh", "sub/notes.md"]
    # Launch files are collected only under the directories named for it.
    configs_only = files.Discovery(["."])
    assert list(configs_only) == discovery.jobs
    assert configs_only.launch_files == []


@pytest.mark.parametrize(
    ("text", "bounds", "expected"),
    [
        ("head\n[data]\nx = 1\n[b]\n", (5, 18), "head\n[data]\nx = 2\n[b]\n"),
        ('s = """\n[data]\nx = 1\n"""\n[data]\nx = 1\n', (25, 38), None),  # earlier copy
    ],
)
def test_splice_replaces_exactly_the_part(
    text: str, bounds: tuple[int, int], expected: str | None
) -> None:
    start, end = bounds
    assert text[start:end] == "[data]\nx = 1\n"
    new_part = "[data]\nx = 2\n"
    assert engine._splice(text, bounds, new_part) == (
        expected or text[:start] + new_part + text[end:]
    )
    assert engine._splice(text, bounds, new_part).count("x = 1") == text.count("x = 1") - 1


def test_a_part_whose_edit_reaches_a_block_between_the_named_ones_is_refused() -> None:
    text = '[data]\nname = "x"\n\n[optim]\nlr = 1\n\n[data.extra]\na = 1\n\n[model]\nname = "m"\n'
    bounds = fragment.span(text, {"data"})
    assert bounds == (0, text.index("[model]"))
    old_part = text[: bounds[1]]
    for new_part, expected in (
        (old_part.replace("a = 1", "a = 1\nb = 2"), {"name": "x", "extra": {"a": 1, "b": 2}}),
        (old_part.replace("lr = 1", "lr = 2"), None),  # [optim] is no key of the edit's
    ):
        checked = safety.verify_part(
            text, tomllib.loads(text), bounds, "[model]\n", new_part, {"data"}
        )
        assert (checked and checked["data"]) == expected
