"""Which files commands look at under a directory: exact order, skips and links."""

from __future__ import annotations

from pathlib import Path

from lossmask.paths import iter_toml_files, walk_toml_files


def test_walk_is_sorted_depth_first_and_skips_hidden_vendored_and_linked_dirs(
    toml_tree: Path,
) -> None:
    # A directory's own files (sorted) come before its subdirectories (sorted, depth first).
    assert walk_toml_files(".") == [
        ("a.toml", False),
        ("b.toml", False),
        ("dangling.toml", True),  # listed; the command reports it
        ("link.toml", True),
        ("a-dir/c.toml", False),
        ("dir.toml/inside.toml", False),
        ("sub/.x.toml", False),  # hidden *files* are configs too; hidden directories are skipped
        ("sub/z.toml", False),
        ("sub/deeper/y.toml", False),
    ]
    assert walk_toml_files(f"{toml_tree}/sub/") == [
        (f"{toml_tree}/sub/.x.toml", False),
        (f"{toml_tree}/sub/z.toml", False),
        (f"{toml_tree}/sub/deeper/y.toml", False),
    ]


def test_named_files_come_first_as_given_even_when_missing(toml_tree: Path) -> None:
    assert list(iter_toml_files(["missing.toml", "x.txt", "sub/deeper"])) == [
        Path("missing.toml"),
        Path("x.txt"),
        Path("sub/deeper/y.toml"),
    ]
