"""Which files `validate` checks under a directory: excludes, .gitignore, [tool.lossmask]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossmask.config_files.selection import Selection, discover_project_settings, select_files
from lossmask.terminal import color_by_default
from tests.cli_runner import run_cli
from tests.conftest import CORPUS

GOOD = '[data]\nloss_mask = "sampled"\n'


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(GOOD)


def _selected(root: Path, selection: Selection, *paths: str) -> list[str]:
    return [
        p.relative_to(root).as_posix() for p in select_files([root / p for p in paths], selection)
    ]


def test_default_excludes_tool_configs_only_under_directories(tmp_path: Path) -> None:
    _tree(tmp_path, ["pyproject.toml", "a/sft.toml", "a/tombi.toml"])
    selection = Selection(root=tmp_path)
    assert _selected(tmp_path, selection, ".") == ["a/sft.toml"]
    # A file named on the command line is always checked, unless --force-exclude.
    assert _selected(tmp_path, selection, "pyproject.toml") == ["pyproject.toml"]
    forced = Selection(root=tmp_path, force_exclude=True)
    assert _selected(tmp_path, forced, "pyproject.toml") == []


def test_exclude_replaces_and_extend_exclude_adds(tmp_path: Path) -> None:
    _tree(tmp_path, ["pyproject.toml", "rl.toml", "sft.toml", "deep/er/rl.toml", "run/x.toml"])
    replaced = Selection(root=tmp_path, exclude=("rl.toml",))
    assert _selected(tmp_path, replaced, ".") == ["pyproject.toml", "sft.toml", "run/x.toml"]
    extended = Selection(root=tmp_path, extend_exclude=("rl.toml", "/run/"))
    assert _selected(tmp_path, extended, ".") == ["sft.toml"]


def test_gitignore_files_are_respected_at_every_level(tmp_path: Path) -> None:
    _tree(tmp_path, ["keep.toml", "build/out.toml", "sub/a.toml", "sub/tmp.toml"])
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "sub" / ".gitignore").write_text("tmp.toml\n")
    assert _selected(tmp_path, Selection(root=tmp_path), ".") == ["keep.toml", "sub/a.toml"]
    ignoring = Selection(root=tmp_path, respect_gitignore=False)
    assert _selected(tmp_path, ignoring, ".") == [
        "keep.toml",
        "build/out.toml",
        "sub/a.toml",
        "sub/tmp.toml",
    ]


def test_include_limits_what_directories_contribute(tmp_path: Path) -> None:
    _tree(tmp_path, ["configs/sft.toml", "other/x.toml"])
    selection = Selection(root=tmp_path, include=("configs/**/*.toml",))
    assert _selected(tmp_path, selection, ".") == ["configs/sft.toml"]


def test_pyproject_is_found_from_the_common_parent_and_stops_at_the_repository(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.lossmask]\nexclude = ["rl.toml"]\n')
    _tree(tmp_path, ["repo/a/x.toml", "repo/b/y.toml", "plain/a/z.toml"])
    found = discover_project_settings([tmp_path / "plain/a/z.toml"])
    assert (found.path, found.exclude) == (tmp_path / "pyproject.toml", ("rl.toml",))
    (tmp_path / "repo" / ".git").mkdir()
    inside = discover_project_settings([tmp_path / "repo/a/x.toml", tmp_path / "repo/b"])
    assert inside.path is None


def test_the_prime_rl_corpus_without_its_rl_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 25 real configs: the RL ones are one note each; excluded by [tool.lossmask], they are
    not even listed, and only SFT warnings stay."""
    monkeypatch.chdir(tmp_path)
    everything = run_cli(["validate", str(CORPUS)])
    assert everything.exit_code == 0
    assert "warning: unknown key in the top level" not in everything.stderr
    assert everything.stderr.count("note: not an SFT trainer config") == 12
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lossmask]\nreader = "lossmask"\n'
        # Patterns with a slash are anchored at the project root, as in .gitignore.
        'extend-exclude = ["rl.toml", "corpus/configs/ci/integration/reverse-text-rl-sft/", '
        '"sft_distill*.toml", "corpus/examples/advanced/"]\n'
    )
    (tmp_path / "corpus").symlink_to(CORPUS)
    result = run_cli(["validate", "--format", "json", "corpus/"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [f["path"].removeprefix("corpus/") for f in report["files"]] == [
        "configs/basic/reverse-text/sft.toml",
        "configs/basic/wordle/sft.toml",
        "configs/ci/slim_sft.toml",
        "configs/ci/integration/reverse-text-sft/full-offload-resume.toml",
        "configs/ci/integration/reverse-text-sft/resume.toml",
        "configs/ci/integration/reverse-text-sft/start.toml",
        "configs/ci/integration/reverse-text-sft-lora/resume.toml",
        "configs/ci/integration/reverse-text-sft-lora/start.toml",
        "configs/debug/fake/sft.toml",
        "examples/basic/reverse-text/sft.toml",
        "examples/basic/wordle/sft.toml",
        "examples/vlm_sft/sft.toml",
        "examples/vlm_sft_moe/sft.toml",
    ]
    assert {w["message"].split(":")[0] for f in report["files"] for w in f["warnings"]} == {
        "no loss_mask",
        "no [data] table in this stack",
    }


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_no_color_turns_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color_by_default(_Terminal()) is True  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert color_by_default(_Terminal()) is False  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: the convention says colour stays
    assert color_by_default(_Terminal()) is True  # type: ignore[arg-type]


# --- one rule for validate and migrate ------------------------------------------------------------

LEGACY = '[data]\nname = "org/ds"\n'


def _repository(root: Path) -> None:
    """A repository whose top-level .gitignore ignores generated run directories."""
    (root / ".git").mkdir()
    (root / ".gitignore").write_text("runs/\ncfg/generated/\n")
    for name in [
        "pyproject.toml",
        "cfg/sft.toml",
        "cfg/generated/copy.toml",
        "cfg/runs/exp1/config.resolved.toml",
        "runs/exp2/config.resolved.toml",
        "cfg/tools/ruff.toml",
        "cfg/old/rl.toml",
    ]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(LEGACY if name.endswith(("sft.toml", "rl.toml")) else GOOD)


def _validated(*args: str) -> list[str]:
    report = json.loads(run_cli(["validate", "--format", "json", *args]).stdout)
    return sorted(f["path"] for f in report["files"])


def _migrated(*args: str) -> list[str]:
    report = json.loads(run_cli(["migrate", "--check", "--format", "json", *args]).stdout)
    return sorted(f["path"] for f in report["files"])


def test_validate_and_migrate_choose_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _repository(tmp_path)
    monkeypatch.chdir(tmp_path)
    # The top-level .gitignore counts for a directory below it (`cfg`), as git reads it; tool
    # configs and the generated run records are never walked.
    assert _validated("cfg") == ["cfg/old/rl.toml", "cfg/sft.toml"]
    assert _migrated("cfg") == _validated("cfg")
    assert _migrated(".") == _validated(".") == ["cfg/old/rl.toml", "cfg/sft.toml"]
    # The same flags, the same [tool.lossmask], for both.
    assert _migrated("--extend-exclude", "old/", ".") == _validated("--extend-exclude", "old/", ".")
    assert _migrated("--extend-exclude", "old/", ".") == ["cfg/sft.toml"]
    (tmp_path / "pyproject.toml").write_text('[tool.lossmask]\nextend-exclude = ["sft.toml"]\n')
    assert _migrated(".") == _validated(".") == ["cfg/old/rl.toml"]
    ignoring = ["--no-respect-gitignore", "."]
    assert _migrated(*ignoring) == _validated(*ignoring)
    assert "runs/exp2/config.resolved.toml" not in _migrated(*ignoring)  # a run record, excluded
    assert "cfg/generated/copy.toml" in _migrated(*ignoring)


def test_a_deeper_gitignore_can_take_back_what_a_shallower_one_ignores(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    _tree(tmp_path, ["gen/a.toml", "gen/keep.toml", "b.toml"])
    (tmp_path / ".gitignore").write_text("gen/*.toml\n")
    (tmp_path / "gen" / ".gitignore").write_text("!keep.toml\n")
    (tmp_path / ".git" / "info").mkdir()
    (tmp_path / ".git" / "info" / "exclude").write_text("b.toml\n")
    selection = Selection(root=tmp_path / "gen", repository=tmp_path)
    assert _selected(tmp_path, selection, "gen") == ["gen/keep.toml"]
    assert _selected(tmp_path, Selection(root=tmp_path, repository=tmp_path), ".") == [
        "gen/keep.toml"
    ]
