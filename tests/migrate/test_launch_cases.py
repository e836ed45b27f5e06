"""Golden launch trees: each way a launch is written, migrated through the CLI and the API.

Each folder of `launch_cases/` holds a tree (`before/`, or `before = "..."` in its `case.toml`
naming a tree elsewhere), the reader its configs were written for (`reader`: prime-rl before
#2988, whose missing loss_mask meant assistant-only), and per `[[run]]` the arguments, the exit
code, the exact stderr (`<run>.stderr`) and the files that change (`<run>/`, the rest stay byte
for byte). Each
`[[stack]]` says what a launch of the tree trains, per SFT data section, computed here by a deep
merge and the schemas' rules (`test_stacks._trains`), not by lossmask's own code: under schema v1
before, and under v2 after every run whose `meaning` is "kept". A run whose `meaning` is
"pending" leaves the stack's files untouched because a launch cannot be resolved: v2 would read
them differently, which is why lossmask refuses to guess.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lossmask.config_files.stacks import split_arguments
from lossmask.migrate.command import run as migrate_run
from lossmask.migrate.options import MigrateOptions
from tests.cli_runner import run_cli
from tests.migrate.test_stacks import _composed, _trains

CASES = Path(__file__).parent / "launch_cases"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "case.toml").is_file())


def _case(name: str) -> dict[str, Any]:
    return tomllib.loads((CASES / name / "case.toml").read_text(encoding="utf-8"))


def _before(name: str) -> Path:
    return (CASES / name / _case(name).get("before", "before")).resolve()


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _copy(name: str, tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(_before(name), tree)
    for directory, _, names in os.walk(tree):
        for file in names:
            os.chmod(os.path.join(directory, file), 0o644)  # a read-only source stays writable
    (tree / ".git").mkdir()  # the launches run from the repository's top level
    return tree


def _expected(name: str, run: dict[str, Any]) -> dict[str, bytes]:
    files = _files(_before(name))
    after = CASES / name / run["name"]
    if after.is_dir():
        files.update(_files(after))
    return files


def _runs() -> list[Any]:
    return [
        pytest.param(name, run, id=f"{name}-{run['name']}")
        for name in NAMES
        for run in _case(name)["run"]
    ]


def _options(args: list[str], reader: str) -> MigrateOptions:
    """The API call the CLI makes for `args` (the flags the cases use) and `--reader`."""
    words: list[str] = []
    stacks = []
    standalone: list[str] = []
    mode = "write"
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--check":
            mode = "check"
        elif arg == "--stack":
            index += 1
            stacks.extend(split_arguments(shlex.split(args[index]))[1])
        elif arg == "--standalone":
            index += 1
            standalone.append(args[index])
        else:
            words.append(arg)
        index += 1
    paths, given = split_arguments(words)
    return MigrateOptions(
        paths=paths,
        stacks=[*given, *stacks],
        standalone=standalone,
        mode=mode,  # type: ignore[arg-type]
        reader=reader,
    )


@pytest.mark.parametrize(("name", "run"), _runs())
def test_through_the_cli(
    name: str, run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _copy(name, tmp_path)
    monkeypatch.chdir(tree)
    result = run_cli(["migrate", "--reader", _case(name)["reader"], *run["args"]])
    stderr = (CASES / name / f"{run['name']}.stderr").read_text(encoding="utf-8")
    assert result.stderr == stderr
    assert result.exit_code == run["exit_code"]
    assert _files(tree) == _expected(name, run)
    _check_meaning(name, run, tree)


@pytest.mark.parametrize(("name", "run"), _runs())
def test_through_the_api(
    name: str, run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _copy(name, tmp_path)
    monkeypatch.chdir(tree)
    report = migrate_run(_options(run["args"], _case(name)["reader"]))
    assert int(report.exit_code) == run["exit_code"]
    assert _files(tree) == _expected(name, run)
    undecided = sorted(r.path for r in report.files if r.status == "undecided")
    assert undecided == sorted(run.get("undecided", []))


def _check_meaning(name: str, run: dict[str, Any], tree: Path) -> None:
    for stack in _case(name).get("stack", []):
        words = shlex.split(stack["launch"])
        trains = stack["trains"]
        assert _trains(_composed(_before(name), words), version=1) == trains
        after = _trains(_composed(tree, words), version=2)
        if run["meaning"] == "kept":
            assert after == trains
        else:
            assert run["meaning"] == "pending"
            assert after != trains  # why the files are held back, not migrated on a guess


def test_every_case_has_a_tree_and_runs() -> None:
    assert len(NAMES) >= 15
    for name in NAMES:
        assert _before(name).is_dir(), name
        assert _case(name)["run"], name
        assert _case(name).get("stack") or name.startswith("prime-rl"), name


def _stacks(stderr: str) -> dict[str, set[str]]:
    """`Stack ...` lines of a report: each stack with the places it was found."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith("Stack `"):
            stack, _, sources = line.partition(" (from ")
            found[stack] = set(sources.rstrip(")").split(", "))
    return found


def test_the_prime_rl_tree_keeps_every_stack_lossmask_found_before() -> None:
    """The stacks and files of main at 7baefe4 (recorded before launch reading changed) are all
    still found; the new ones are the argument lists of prime-rl's Python test launchers."""
    case = CASES / "prime-rl-559b447"
    before = _stacks((case / "main-7baefe4.stderr").read_text(encoding="utf-8"))
    now = _stacks((case / "migrate.stderr").read_text(encoding="utf-8"))
    assert len(before) == 30
    for stack, sources in before.items():
        assert sources <= now[stack], stack
    added = {
        source for stack, sources in now.items() for source in sources - before.get(stack, set())
    }
    assert {source.split(":")[0].rsplit("/", 1)[0] for source in added} == {
        "tests/integration",
        "tests/nightly",
    }
    assert len(now) == 43
    main_files = [
        line.removeprefix("Rewriting ")
        for line in (case / "main-7baefe4.stderr").read_text(encoding="utf-8").splitlines()
        if line.startswith("Rewriting ")
    ]
    assert sorted(main_files) == sorted(_files(case / "migrate"))
