"""Which files commands look at under a directory: exact order, skips and links."""

from __future__ import annotations

from pathlib import Path

import pytest

from lossmask.paths import iter_toml_files, walk_toml_files


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [
        "b.toml",
        "a.toml",
        "x.txt",
        "sub/z.toml",
        "sub/deeper/y.toml",
        "a-dir/c.toml",
        ".hidden/h.toml",
        "node_modules/n.toml",
        "venv/v.toml",
        "sub/.x.toml",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "link.toml").symlink_to(tmp_path / "a.toml")
    (tmp_path / "linked-dir").symlink_to(tmp_path / "sub")
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "dir.toml" / "inside.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_walk_is_sorted_depth_first_and_skips_hidden_vendored_and_linked_dirs(tree: Path) -> None:
    # A directory's own files (sorted) come before its subdirectories (sorted, depth first).
    assert walk_toml_files(".") == [
        ("a.toml", False),
        ("b.toml", False),
        ("link.toml", True),
        ("a-dir/c.toml", False),
        ("dir.toml/inside.toml", False),
        ("sub/.x.toml", False),  # hidden *files* are configs too; hidden directories are skipped
        ("sub/z.toml", False),
        ("sub/deeper/y.toml", False),
    ]
    assert walk_toml_files(f"{tree}/sub/") == [
        (f"{tree}/sub/.x.toml", False),
        (f"{tree}/sub/z.toml", False),
        (f"{tree}/sub/deeper/y.toml", False),
    ]


def test_named_files_come_first_as_given_even_when_missing(tree: Path) -> None:
    assert list(iter_toml_files(["missing.toml", "x.txt", "sub/deeper"])) == [
        Path("missing.toml"),
        Path("x.txt"),
        Path("sub/deeper/y.toml"),
    ]
