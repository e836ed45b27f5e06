"""The real `lossmask migrate` command: exact messages, exit codes, bytes left alone on error."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import Result

from lossmask.migrate import files
from tests.cli_runner import run_cli
from tests.conftest import PRE_2988_SUMMARY as SOURCE

LEGACY = '[data]\nname = "x"\n'
MIGRATED = (
    '[data]\nname = "x"\n\n# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
    "[data.loss_mask]\nsystem = false\nuser = false\nassistant = true\ntool = false\n"
)
FULL = "[data.loss_mask]\nsystem = false\nuser = false\nassistant = true\ntool = false\n"


def migrate(*args: str) -> Result:
    return run_cli(["migrate", "--reader", "prime-rl-pre-2988", *args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, content: str | bytes, mode: int = 0o644) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)
    return path


def test_write_mode_rewrites_and_reports() -> None:
    write("a.toml", LEGACY)
    write("b.toml", FULL)
    result = migrate("a.toml", "b.toml")
    assert result.exit_code == 0
    assert result.stderr == "Rewriting a.toml\n1 file migrated, 1 unchanged" + SOURCE + "\n"
    assert result.stdout == ""
    assert Path("a.toml").read_text() == MIGRATED
    assert Path("b.toml").read_text() == FULL


def test_check_writes_nothing_and_exits_1() -> None:
    write("a.toml", LEGACY)
    result = migrate("--check", "a.toml")
    assert (result.exit_code, result.stderr) == (
        1,
        "Would rewrite a.toml\n1 file would be migrated, 0 unchanged" + SOURCE + "\n",
    )
    assert Path("a.toml").read_text() == LEGACY
    write("a.toml", MIGRATED)
    assert migrate("--check", "a.toml").exit_code == 0


def test_diff_prints_a_patch_and_writes_nothing() -> None:
    write("a.toml", LEGACY)
    result = migrate("--diff", "a.toml")
    assert result.exit_code == 0
    assert result.stdout == (
        '--- a.toml\n+++ a.toml\n@@ -1,2 +1,9 @@\n [data]\n name = "x"\n+\n'
        '+# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
        "+[data.loss_mask]\n+system = false\n+user = false\n+assistant = true\n+tool = false\n"
    )
    assert (
        result.stderr
        == "Would rewrite a.toml\n1 file would be migrated, 0 unchanged" + SOURCE + "\n"
    )
    assert Path("a.toml").read_text() == LEGACY


def test_json_report() -> None:
    write("a.toml", LEGACY)
    write("bad.toml", "[data.loss_mask]\nassistant = 1\n")
    result = migrate("--check", "--format", "json", "a.toml", "bad.toml")
    assert result.exit_code == 2
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "version": 2,
        "mode": "check",
        "reader": "prime-rl-pre-2988",
        "schema_version": 1,
        "exit_code": 2,
        "summary": {
            "migrated": 0,
            "would_migrate": 1,
            "unchanged": 0,
            "undecided": 0,
            "errors": 1,
            "stacks": 0,
            "text": "1 file would be migrated, 0 unchanged, 1 error" + SOURCE,
        },
        "stacks": [],
        "notes": [],
        "unresolved_launches": [],
        "files": [
            {
                "path": "a.toml",
                "resolved_path": None,
                "status": "would_migrate",
                "changes": ["data.loss_mask: added the v1 default explicitly (assistant only)"],
                "errors": [],
            },
            {
                "path": "bad.toml",
                "resolved_path": None,
                "status": "error",
                "changes": [],
                "errors": [
                    {
                        "file": "bad.toml",
                        "line": 2,
                        "key": "data.loss_mask.assistant",
                        "message": "must be true or false, not 1",
                        "suggestion": None,
                        "text": "bad.toml:2: data.loss_mask.assistant: must be true or false, "
                        "not 1",
                    }
                ],
            },
        ],
    }


BAD_INPUT = {
    "malformed-toml": (
        b"[data\nname = 1\n",
        "error: f.toml:1: invalid TOML: expected ']' at the end of a table declaration\n",
    ),
    "not-utf-8": (
        b'[data]\nname = "\xff"\n',
        "error: f.toml:2: not UTF-8 text (byte 0xff at offset 15) (TOML files must be UTF-8; "
        "re-save the file as UTF-8)\n",
    ),
    "unknown-role": (
        b"[data]\nname = 'x'\n\n[data.loss_mask]\nassistnt = true\n",
        'error: f.toml:5: data.loss_mask.assistnt: unknown role "assistnt" (valid roles are '
        'system, user, assistant, tool; did you mean "assistant"?)\n',
    ),
    "wrong-type": (
        b'[data.loss_mask]\nassistant = "yes"\n',
        'error: f.toml:2: data.loss_mask.assistant: must be true or false, not "yes"\n',
    ),
}


@pytest.mark.parametrize(("content", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
@pytest.mark.parametrize("mode", ["write", "check"])
def test_bad_input(content: bytes, message: str, mode: str) -> None:
    write("f.toml", content)
    result = migrate(*(["--check"] if mode == "check" else []), "f.toml")
    assert result.exit_code == 2
    verb = "migrated" if mode == "write" else "would be migrated"
    assert result.stderr == message + f"0 files {verb}, 0 unchanged, 1 error" + SOURCE + "\n"
    assert Path("f.toml").read_bytes() == content


def test_read_only_file_is_not_rewritten() -> None:
    write("f.toml", LEGACY, mode=0o444)
    result = migrate("f.toml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: f.toml: file is read-only; not rewritten (make it writable (chmod u+w) or see the "
        "change with --diff)\n0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n"
    )
    assert Path("f.toml").read_text() == LEGACY
    assert stat.S_IMODE(os.stat("f.toml").st_mode) == 0o444
    # Nothing to change: a read-only file is fine.
    write("g.toml", FULL, mode=0o444)
    assert migrate("g.toml").exit_code == 0


def test_dangling_symlink_is_an_error(in_tmp: Path) -> None:
    os.symlink("missing.toml", "link.toml")
    result = migrate("link.toml")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: link.toml: dangling symbolic link: its target {in_tmp / 'missing.toml'} does not "
        "exist (fix or remove the link)\n0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n"
    )
    assert os.readlink("link.toml") == "missing.toml"


def test_empty_file_is_left_alone() -> None:
    write("empty.toml", b"")
    result = migrate("-v", "empty.toml")
    assert (result.exit_code, result.stderr) == (
        0,
        "Unchanged empty.toml\n0 files migrated, 1 unchanged" + SOURCE + "\n",
    )
    assert Path("empty.toml").read_bytes() == b""


def test_one_bad_file_among_good_ones() -> None:
    write("configs/a.toml", LEGACY)
    write("configs/b.toml", LEGACY)
    write("configs/broken.toml", b"[data\n")
    write("configs/rl.toml", "[orchestrator]\nbatch_size = 2\n")
    result = migrate("configs")
    assert result.exit_code == 2
    assert result.stderr == (
        "Rewriting configs/a.toml\nRewriting configs/b.toml\n"
        "error: configs/broken.toml:1: invalid TOML: expected ']' at the end of a table "
        "declaration\n2 files migrated, 1 unchanged, 1 error" + SOURCE + "\n"
    )
    assert Path("configs/a.toml").read_text() == MIGRATED
    assert Path("configs/b.toml").read_text() == MIGRATED
    assert Path("configs/broken.toml").read_bytes() == b"[data\n"


def test_directories_skip_hidden_venv_and_node_modules() -> None:
    for name in [
        "tree/.hidden/a.toml",
        "tree/.git/a.toml",
        "tree/.venv/a.toml",
        "tree/node_modules/a.toml",
        "tree/notes.txt",
    ]:
        write(name, LEGACY)
    write("tree/sub/real.toml", LEGACY)
    result = migrate("tree")
    assert (
        result.stderr
        == "Rewriting tree/sub/real.toml\n1 file migrated, 0 unchanged" + SOURCE + "\n"
    )
    assert Path("tree/.hidden/a.toml").read_text() == LEGACY


def test_symlink_rewrites_its_target_once(in_tmp: Path) -> None:
    write("real/config.toml", LEGACY)
    os.symlink("real/config.toml", "link.toml")
    result = migrate("link.toml", "real/config.toml")
    target = in_tmp / "real" / "config.toml"
    assert (
        result.stderr
        == f"Rewriting link.toml -> {target}\n1 file migrated, 0 unchanged" + SOURCE + "\n"
    )
    assert os.path.islink("link.toml")
    assert target.read_text() == MIGRATED


def test_hard_linked_file_is_refused() -> None:
    write("a.toml", LEGACY)
    os.link("a.toml", "b.toml")
    result = migrate("a.toml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: a.toml: file has 2 hard links; not rewritten, because an atomic rewrite would "
        "update only this name and leave the other links with the old text (to migrate this name "
        "alone, replace it with a copy first (cp FILE FILE.copy && mv FILE.copy FILE))\n"
        "0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n"
    )
    assert Path("b.toml").read_text() == LEGACY
    assert migrate("--check", "a.toml").exit_code == 1


def test_permissions_are_kept() -> None:
    write("a.toml", LEGACY, mode=0o640)
    assert migrate("a.toml").exit_code == 0
    assert stat.S_IMODE(os.stat("a.toml").st_mode) == 0o640


def test_quiet_and_verbose() -> None:
    write("a.toml", LEGACY)
    write("b.toml", FULL)
    write("c.toml", b"[data\n")
    quiet = migrate("-q", "--check", "a.toml", "b.toml", "c.toml")
    assert quiet.stderr == (
        "error: c.toml:1: invalid TOML: expected ']' at the end of a table declaration\n"
    )
    verbose = migrate("-v", "--check", "a.toml", "b.toml")
    assert verbose.stderr == (
        "Would rewrite a.toml\n  data.loss_mask: added the v1 default explicitly (assistant only)\n"
        "Unchanged b.toml\n1 file would be migrated, 1 unchanged" + SOURCE + "\n"
    )


def test_jobs_give_the_same_result(in_tmp: Path) -> None:
    for index in range(6):
        write(f"one/{index}.toml", LEGACY if index % 2 else FULL)
        write(f"two/{index}.toml", LEGACY if index % 2 else FULL)
    serial = migrate("-j", "1", "one")
    parallel = migrate("--jobs", "2", "two")
    assert serial.stderr.replace("one/", "two/") == parallel.stderr
    assert parallel.stderr.endswith("3 files migrated, 3 unchanged" + SOURCE + "\n")
    for index in range(6):
        assert Path(f"two/{index}.toml").read_text() == (MIGRATED if index % 2 else FULL)


def test_usage_errors_exit_2() -> None:
    assert migrate("--from", "2", "x.toml").exit_code == 2
    assert migrate("-q", "-v", "x.toml").exit_code == 2
    assert migrate().exit_code == 2


def test_failure_between_temp_write_and_replace_leaves_original(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("a.toml", LEGACY)

    def failing_replace(source: str, destination: str) -> None:
        assert Path(source).read_text() == MIGRATED  # the temporary file was complete
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_replace", failing_replace)
    result = migrate("a.toml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: a.toml: cannot write: No space left on device; not rewritten\n"
        "0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n"
    )
    assert Path("a.toml").read_text() == LEGACY
    assert sorted(os.listdir(in_tmp)) == ["a.toml"]


def test_interrupt_between_temp_write_and_replace_cleans_up(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write("a.toml", LEGACY)

    def interrupted(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(str(path), MIGRATED, os.stat(path))
    assert path.read_text() == LEGACY
    assert sorted(os.listdir(in_tmp)) == ["a.toml"]


def test_file_changed_since_read_is_not_overwritten(in_tmp: Path) -> None:
    path = write("a.toml", LEGACY)
    before = os.stat(path)
    path.write_text(LEGACY + "# edited meanwhile\n")
    with pytest.raises(files.WriteRefused, match="file changed while it was being migrated"):
        files.atomic_write(str(path), MIGRATED, before)
    assert path.read_text() == LEGACY + "# edited meanwhile\n"
    assert sorted(os.listdir(in_tmp)) == ["a.toml"]
