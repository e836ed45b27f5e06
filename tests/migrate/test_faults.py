"""`migrate` killed mid-write, and the file metadata a rewrite must keep: real signals sent to a
real `lossmask migrate` process, real extended attributes, ACLs and groups where the filesystem has
them.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import Result

from lossmask.migrate.files import TEMP_SUFFIX
from tests.cli_runner import run_cli
from tests.conftest import PRE_2988_SUMMARY as SOURCE

REPO_ROOT = Path(__file__).resolve().parents[2]
LEGACY = '[data]\nname = "x"\n'
MIGRATED = (
    '[data]\nname = "x"\n\n# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")\n'
    "[data.loss_mask]\nsystem = false\nuser = false\nassistant = true\ntool = false\n"
)

# `lossmask migrate ARGS` (default: a.toml) that stops, once a temporary file is complete, just
# before the rename: the process writing it (a worker, with -j 2) writes READY-<pid> and sleeps,
# so the test can signal it at exactly that point.
_PAUSED_MIGRATE = """
import os, sys, time
from lossmask.migrate import files
def paused(source, target):
    open(f"READY-{os.getpid()}", "w").close()
    time.sleep(60)
files._replace = paused
from lossmask.cli import main
main(["migrate", "--reader", "prime-rl-pre-2988", *(sys.argv[1:] or ["a.toml"])])
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def migrate(*args: str) -> Result:
    return run_cli(["migrate", "--reader", "prime-rl-pre-2988", *args], catch_exceptions=False)


def temporaries() -> list[str]:
    return sorted(name for name in os.listdir(".") if name.endswith(TEMP_SUFFIX))


def ready() -> list[int]:
    """The processes held at the rename (see `_PAUSED_MIGRATE`)."""
    return sorted(int(name.split("-")[1]) for name in os.listdir(".") if name.startswith("READY-"))


def paused_migrate(*args: str, writers: int = 1) -> subprocess.Popen[bytes]:
    """A migrate process held with `writers` temporary files written (see `_PAUSED_MIGRATE`)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_MIGRATE, *args],
        env=env,
        stderr=subprocess.PIPE,
        # As from a terminal: a suite started in the background (`nohup ... &`, some CI runners)
        # hands its children SIGINT ignored, and Ctrl-C is what these tests send.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while len(ready()) < writers:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"migrate never reached the rename: {process.communicate()[1]!r}")
        time.sleep(0.02)
    assert len(temporaries()) == writers  # the window the signal must clean up after
    return process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_with_two_jobs_stops_the_workers_and_leaves_no_temporary_file() -> None:
    names = [f"{letter}.toml" for letter in "abcd"]
    for name in names:
        Path(name).write_text(LEGACY)
    process = paused_migrate("-j", "2", *names, writers=2)
    workers = ready()
    assert process.pid not in workers  # the writes happen in the two workers
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)  # nothing writes after the run was stopped
    assert temporaries() == []
    assert [Path(name).read_text() for name in names] == [LEGACY] * 4


def test_ctrl_c_with_one_job_exits_130_and_leaves_no_temporary_file() -> None:
    Path("a.toml").write_text(LEGACY)
    process = paused_migrate("-j", "1", "a.toml")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130  # not 1, which means "--check found changes"
    assert stderr.decode().splitlines()[-1] == (
        "Interrupted: every file is either rewritten whole or untouched."
    )
    assert temporaries() == []
    assert Path("a.toml").read_text() == LEGACY


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_write_removes_the_temporary_file(signum: int) -> None:
    Path("a.toml").write_text(LEGACY)
    process = paused_migrate()
    process.send_signal(signum)
    process.communicate(timeout=60)
    if signum == signal.SIGTERM:
        assert process.returncode == -signal.SIGTERM  # still dies of the signal
    assert temporaries() == []
    assert Path("a.toml").read_text() == LEGACY


def test_temporary_file_left_by_sigkill_is_reported_then_removed() -> None:
    Path("a.toml").write_text(LEGACY)
    Path("b.toml").write_text(LEGACY)
    process = paused_migrate()
    process.kill()
    process.communicate(timeout=60)
    (left,) = temporaries()
    assert left.startswith(".a.toml.")
    checked = migrate("--check", "a.toml", "b.toml")
    assert (checked.exit_code, checked.stderr) == (
        1,
        "Would rewrite a.toml\n"
        f"a.toml: warning: temporary file left by an interrupted lossmask migrate: {left} "
        "(delete it; lossmask migrate (without --check or --diff) does)\n"
        "Would rewrite b.toml\n2 files would be migrated, 0 unchanged" + SOURCE + "\n",
    )
    assert temporaries() == [left]
    written = migrate("a.toml", "b.toml")
    assert (written.exit_code, written.stderr) == (
        0,
        "Rewriting a.toml\n"
        f"a.toml: warning: removed a temporary file left by an interrupted lossmask migrate: "
        f"{left}\nRewriting b.toml\n2 files migrated, 0 unchanged" + SOURCE + "\n",
    )
    assert temporaries() == []
    assert Path("a.toml").read_text() == MIGRATED


def test_temporary_files_of_other_names_are_left_alone() -> None:
    Path("a.toml").write_text(LEGACY)
    others = [
        ".ab.toml.abcd1234" + TEMP_SUFFIX,  # another file's
        ".a.toml.toolong12345" + TEMP_SUFFIX,  # not a name mkstemp makes
        "a.toml.abcd1234" + TEMP_SUFFIX,  # not hidden
    ]
    for name in others:
        Path(name).write_text("x")
    assert (
        migrate("a.toml").stderr == "Rewriting a.toml\n1 file migrated, 0 unchanged" + SOURCE + "\n"
    )
    assert temporaries() == sorted(others)


# --- metadata ------------------------------------------------------------------------------------


def _set_xattr_or_skip(path: str, name: str, value: bytes) -> None:
    if not hasattr(os, "setxattr"):
        pytest.skip("no extended attributes on this platform")
    try:
        os.setxattr(path, name, value)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            pytest.skip(f"this filesystem does not take {name}: {exc.strerror}")
        raise


def test_extended_attributes_are_kept() -> None:
    Path("a.toml").write_text(LEGACY)
    _set_xattr_or_skip("a.toml", "user.origin", b"team-configs")
    _set_xattr_or_skip("a.toml", "user.empty", b"")
    assert migrate("a.toml").exit_code == 0
    assert Path("a.toml").read_text() == MIGRATED
    assert sorted(os.listxattr("a.toml")) == ["user.empty", "user.origin"]
    assert os.getxattr("a.toml", "user.origin") == b"team-configs"


def _access_acl(entries: list[tuple[int, int, int]]) -> bytes:
    """The `system.posix_acl_access` value the kernel takes: version 2, then (tag, perm, id)."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


UNDEFINED_ID = 0xFFFFFFFF
USER_OBJ, USER, GROUP_OBJ, MASK, OTHER = 0x01, 0x02, 0x04, 0x10, 0x20


def test_posix_acl_is_kept() -> None:
    Path("a.toml").write_text(LEGACY)
    os.chmod("a.toml", 0o640)
    acl = _access_acl(
        [
            (USER_OBJ, 6, UNDEFINED_ID),
            (USER, 6, 12345),  # user 12345 may read and write
            (GROUP_OBJ, 4, UNDEFINED_ID),
            (MASK, 6, UNDEFINED_ID),
            (OTHER, 0, UNDEFINED_ID),
        ]
    )
    _set_xattr_or_skip("a.toml", "system.posix_acl_access", acl)
    mode = os.stat("a.toml").st_mode
    assert migrate("a.toml").exit_code == 0
    assert Path("a.toml").read_text() == MIGRATED
    assert os.getxattr("a.toml", "system.posix_acl_access") == acl
    assert os.stat("a.toml").st_mode == mode
    if shutil.which("getfacl"):
        shown = subprocess.run(["getfacl", "-cn", "a.toml"], capture_output=True, text=True)
        assert "user:12345:rw-" in shown.stdout.split()


@pytest.mark.skipif(not hasattr(os, "chown"), reason="no file owners on this platform")
def test_group_is_kept_when_the_owner_cannot_be() -> None:
    # A group member who is not the owner rewrites a group-writable file: the file becomes theirs
    # (only root may give a file away) but keeps its group.
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as a group member who is not the owner")
    owner, group = 12345, 54321
    Path("a.toml").write_text(LEGACY)
    os.chmod("a.toml", 0o664)
    os.chown("a.toml", owner, group)
    command = [
        "setpriv",
        f"--groups={group}",
        "--bounding-set=-chown,-fowner,-dac_override,-dac_read_search",
        sys.executable,
        "-m",
        "lossmask",
        "migrate",
        "--reader",
        "prime-rl-pre-2988",
        "a.toml",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (
        0,
        "Rewriting a.toml\n1 file migrated, 0 unchanged" + SOURCE + "\n",
    )
    info = os.stat("a.toml")
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (0, group, 0o664)
    assert Path("a.toml").read_text() == MIGRATED


def test_leftovers_met_in_a_walk_and_behind_a_link_are_removed() -> None:
    Path("sub").mkdir()
    Path("elsewhere").mkdir()
    Path("sub/c.toml").write_text(LEGACY)
    Path("elsewhere/real.toml").write_text(LEGACY)
    Path("sub/link.toml").symlink_to("../elsewhere/real.toml")
    walked = "sub/.c.toml.abcd_123" + TEMP_SUFFIX
    behind_link = "elsewhere/.real.toml.zz99zz99" + TEMP_SUFFIX
    for name in (walked, behind_link):
        Path(name).write_text("half a config")
    real = Path("elsewhere").resolve()
    written = migrate("sub")
    assert (written.exit_code, written.stderr) == (
        0,
        "Rewriting sub/c.toml\n"
        f"sub/c.toml: warning: removed a temporary file left by an interrupted lossmask migrate: "
        f"{walked}\n"
        f"Rewriting sub/link.toml -> {real / 'real.toml'}\n"
        f"sub/link.toml: warning: removed a temporary file left by an interrupted lossmask "
        f"migrate: {real / Path(behind_link).name}\n"
        "2 files migrated, 0 unchanged" + SOURCE + "\n",
    )
    assert not Path(walked).exists() and not Path(behind_link).exists()


def test_an_attribute_that_cannot_be_copied_refuses_the_rewrite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("a.toml").write_text(LEGACY)
    _set_xattr_or_skip("a.toml", "user.origin", b"team-configs")

    def refused(path: str, name: str, value: bytes) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "setxattr", refused)
    written = migrate("a.toml")
    assert (written.exit_code, written.stderr) == (
        2,
        "error: a.toml: cannot keep the file's extended attribute user.origin (Operation not "
        "permitted); not rewritten (apply the change by hand; --diff prints it)\n"
        "0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n",
    )
    assert Path("a.toml").read_text() == LEGACY
    assert temporaries() == []
