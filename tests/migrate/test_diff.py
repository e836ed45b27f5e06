"""`migrate --diff` prints patches that the real `patch -p0` and `git apply -p0` apply exactly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lossmask.migrate.diff import lines, unified_diff
from tests.cli_runner import run_cli
from tests.conftest import PRE_2988_SUMMARY as SOURCE

# Each file needs the legacy table; each has a shape that used to corrupt the patch.
FILES = {
    "no-final-newline.toml": b'[data]\nname = "x"',
    "crlf.toml": b'[data]\r\nname = "x"\r\n',
    "crlf-no-final-newline.toml": b'[data]\r\nname = "x"',
    "line-separators.toml": '# a \u2028 b \x85 c\n[data]\nname = "x \u2029 y"\n'.encode(),
    "sub/plain.toml": b'[data]\nname = "x"\n',
}


def test_last_line_without_newline_is_marked() -> None:
    assert unified_diff("a.toml", "[data]\nx = 1", "[data]\nx = 2") == (
        "--- a.toml\n+++ a.toml\n@@ -1,2 +1,2 @@\n [data]\n-x = 1\n"
        "\\ No newline at end of file\n+x = 2\n\\ No newline at end of file\n"
    )
    assert unified_diff("a.toml", "x = 1", "x = 1\ny = 2\n") == (
        "--- a.toml\n+++ a.toml\n@@ -1 +1,2 @@\n-x = 1\n\\ No newline at end of file\n"
        "+x = 1\n+y = 2\n"
    )


def test_lines_are_cut_at_newlines_only() -> None:
    assert lines("a\u2028b\x85c\x0cd\r\ne") == ["a\u2028b\x85c\x0cd\r\n", "e"]
    assert lines("") == [] and lines("\n") == ["\n"]


def _tree(root: Path) -> None:
    for name, content in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def _contents(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in FILES}


@pytest.mark.parametrize(
    "tool",
    [["patch", "-p0", "--quiet", "--input"], ["git", "apply", "-p0"]],
    ids=["patch", "git-apply"],
)
def test_every_diff_applies(
    tool: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")
    original, patched, migrated = (tmp_path / name for name in ("original", "patched", "migrated"))
    for root in (original, patched, migrated):
        _tree(root)
    monkeypatch.chdir(original)
    diff = run_cli(
        ["migrate", "--reader", "prime-rl-pre-2988", "--diff", "."], catch_exceptions=False
    )
    assert diff.exit_code == 0
    # Bytes: `Result.stdout` would turn the CRLF lines of the patch into LF.
    assert diff.stdout_bytes.count(b"\\ No newline at end of file\n") == 4
    (tmp_path / "changes.diff").write_bytes(diff.stdout_bytes)
    monkeypatch.chdir(migrated)
    assert run_cli(["migrate", "--reader", "prime-rl-pre-2988", "."]).exit_code == 0
    applied = subprocess.run(
        [*tool, str(tmp_path / "changes.diff")], cwd=patched, capture_output=True, check=False
    )
    assert applied.returncode == 0, applied.stderr
    assert _contents(patched) == _contents(migrated)
    assert _contents(original) == FILES  # --diff wrote nothing


def test_check_with_diff_prints_the_diff_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.toml").write_bytes(FILES["no-final-newline.toml"])
    Path("done.toml").write_text('[data]\nloss_mask = "sampled"\n')
    result = run_cli(
        ["migrate", "--reader", "prime-rl-pre-2988", "--check", "--diff", "a.toml", "done.toml"]
    )
    assert (result.exit_code, result.stderr) == (
        1,
        "Would rewrite a.toml\n1 file would be migrated, 1 unchanged" + SOURCE + "\n",
    )
    assert result.stdout == (
        '--- a.toml\n+++ a.toml\n@@ -1,2 +1,9 @@\n [data]\n-name = "x"\n'
        '\\ No newline at end of file\n+name = "x"\n+\n'
        '+# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
        "+[data.loss_mask]\n+system = false\n+user = false\n+assistant = true\n+tool = false\n"
        "\\ No newline at end of file\n"
    )
    assert Path("a.toml").read_bytes() == FILES["no-final-newline.toml"]
