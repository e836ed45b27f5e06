"""Inputs a new user really meets, through `validate` and `migrate`: exact message, exit code, and
the other files still processed.

Paths the OS refuses (no search permission) need a process without root's override: as root the
command runs under `setpriv` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped, else as is.
FIFOs and devices run in a subprocess with a timeout, so a regression fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from lossmask.errors import UnreadableFileError
from lossmask.migrate import MigrateOptions, safety
from lossmask.migrate import run as migrate_run
from lossmask.migrate.engine import migrate_text
from lossmask.schema.validation import load_config
from tests.cli_runner import run_cli
from tests.conftest import PRE_2988_SUMMARY as SOURCE

REPO_ROOT = Path(__file__).resolve().parent.parent
LEGACY = '[data]\nname = "x"\n'
NO_MASK_WARNING = (
    ':1: data: warning: no loss_mask: schema version 3 trains "sampled" tokens here, where '
    "version 1 trained assistant messages only (run `lossmask migrate` to keep the old meaning, "
    'or set loss_mask = "sampled" to accept the new one)'
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args: str) -> Result:
    return run_cli(list(args), catch_exceptions=False)


def run(
    *args: str, unprivileged: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`lossmask ARGS` in a fresh process in the current directory."""
    command = [sys.executable, "-m", "lossmask", *args]
    if unprivileged and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def locked_directory() -> None:
    """`locked/a.toml` (a legacy config) inside a directory nobody may search or list."""
    Path("locked").mkdir()
    Path("locked/a.toml").write_text(LEGACY)
    Path("locked").chmod(0)


@pytest.fixture
def unlock():
    yield
    if Path("locked").exists():
        Path("locked").chmod(0o755)  # so pytest can remove it


# --- paths the OS refuses ------------------------------------------------------------------------

PERMISSION = (
    "cannot read: Permission denied "
    "(check the permissions of the file and of the directories above it)"
)
UNLISTED = (
    "locked: cannot list this directory: permission denied; the files in it were not checked "
    "(give it read and search permission with chmod u+rx, or leave it out)"
)


def test_named_file_in_unsearchable_directory(unlock: None) -> None:
    locked_directory()
    Path("ok.toml").write_text(LEGACY)
    validated = run("validate", "-q", "locked/a.toml", "ok.toml", unprivileged=True)
    assert (validated.returncode, validated.stderr) == (2, f"locked/a.toml: {PERMISSION}\n")
    migrated = run(
        "migrate", "--reader", "prime-rl-pre-2988", "locked/a.toml", "ok.toml", unprivileged=True
    )
    assert (migrated.returncode, migrated.stderr) == (
        2,
        f"error: locked/a.toml: {PERMISSION}\nRewriting ok.toml\n"
        "1 file migrated, 0 unchanged, 1 error" + SOURCE + "\n",
    )
    assert Path("ok.toml").read_text() != LEGACY  # the others are processed


def test_unlistable_directory_in_a_walk_is_an_error(unlock: None) -> None:
    locked_directory()
    Path("ok.toml").write_text(LEGACY)
    validated = run("validate", ".", unprivileged=True)
    assert (validated.returncode, validated.stderr.splitlines()) == (
        2,
        [
            "ok.toml" + NO_MASK_WARNING,
            UNLISTED,
            "1 file valid, 1 unreadable (read as lossmask schema v3)",
        ],
    )
    checked = run(
        "migrate",
        "--reader",
        "prime-rl-pre-2988",
        "--check",
        "--format",
        "json",
        ".",
        unprivileged=True,
    )
    report = json.loads(checked.stdout)
    assert checked.returncode == 2
    assert [(f["path"], f["status"]) for f in report["files"]] == [
        ("ok.toml", "would_migrate"),
        ("locked", "error"),
    ]
    assert report["files"][1]["errors"][0]["text"] == UNLISTED


# --- not regular files ---------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_and_device_are_refused_before_reading() -> None:
    os.mkfifo("pipe.toml")  # nobody writes: reading it would block forever
    Path("zero.toml").symlink_to("/dev/zero")  # reading it would never end
    Path("ok.toml").write_text(LEGACY)
    Path("dir").mkdir()
    os.mkfifo("dir/walked.toml")
    pipe = "pipe.toml: is a named pipe (FIFO), not a regular file; not read"
    zero = (
        "zero.toml: is a symbolic link to /dev/zero, which is a character device, "
        "not a regular file; not read"
    )
    walked = "dir/walked.toml: is a named pipe (FIFO), not a regular file; not read"
    validated = run("validate", "-q", "pipe.toml", "zero.toml", "ok.toml", "dir")
    assert (validated.returncode, validated.stderr.splitlines()) == (2, [pipe, zero, walked])
    migrated = run(
        "migrate", "--reader", "prime-rl-pre-2988", "pipe.toml", "zero.toml", "ok.toml", "dir"
    )
    assert (migrated.returncode, migrated.stderr.splitlines()) == (
        2,
        [
            f"error: {pipe}",
            f"error: {zero}",
            "Rewriting ok.toml",
            f"error: {walked}",
            "1 file migrated, 0 unchanged, 3 errors" + SOURCE,
        ],
    )
    assert Path("pipe.toml").is_fifo() and Path("zero.toml").is_symlink()


# --- nesting -------------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[data]\nname = 'x'\n\n[model]\nx = " + "{ a = [" * depth + "1" + "] }" * depth + "\n"


def too_deep(file: str, depth: int) -> str:
    return (
        f"{file}:5: nesting too deep: arrays and inline tables nested {depth} levels deep, more "
        "than lossmask can follow (write the inner levels as [table] headers, or split the value "
        "up)"
    )


def test_deep_nesting_is_reported_and_the_others_go_on() -> None:
    Path("deep.toml").write_text(_nested(1000))  # 2000 levels: tomllib itself gives up
    Path("ok.toml").write_text(LEGACY)
    validated = cli("validate", "-q", "deep.toml", "ok.toml")
    assert (validated.exit_code, validated.stderr) == (2, too_deep("deep.toml", 2000) + "\n")
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "--check", "deep.toml", "ok.toml")
    assert (migrated.exit_code, migrated.stderr) == (
        2,
        f"error: {too_deep('deep.toml', 2000)}\nWould rewrite ok.toml\n"
        "1 file would be migrated, 0 unchanged, 1 error" + SOURCE + "\n",
    )
    report = json.loads(
        cli(
            "migrate",
            "--reader",
            "prime-rl-pre-2988",
            "--check",
            "--format",
            "json",
            "deep.toml",
            "ok.toml",
        ).stdout
    )
    assert [(f["path"], f["status"]) for f in report["files"]] == [
        ("deep.toml", "error"),
        ("ok.toml", "would_migrate"),
    ]
    assert report["files"][0]["errors"][0]["line"] == 5


def test_recursion_anywhere_in_a_migration_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where Python's recursion limit is reached depends on the call stack: a text that parses
    # can be too deep for the check of its rewrite. Whatever recurses, that file is reported.
    text = LEGACY + "\n[model]\nx = " + "[" * 40 + "]" * 40 + "\n"
    Path("deep.toml").write_text(text)
    Path("ok.toml").write_text(LEGACY)

    def too_deep_to_compare(*args: object) -> None:
        raise RecursionError("maximum recursion depth exceeded in comparison")

    monkeypatch.setattr(safety, "verify_meaning", too_deep_to_compare)
    message = (
        "deep.toml:5: nesting too deep: arrays and inline tables nested 40 levels deep, more "
        "than lossmask can follow (write the inner levels as [table] headers, or split the value "
        "up)"
    )
    assert [p.format() for p in migrate_text(text, file="deep.toml").problems] == [message]
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "deep.toml")
    assert (migrated.exit_code, migrated.stderr) == (
        2,
        f"error: {message}\n0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n",
    )
    assert Path("deep.toml").read_text() == text


# --- messages ------------------------------------------------------------------------------------


def test_symlink_loop_is_called_a_loop() -> None:
    Path("a.toml").symlink_to("b.toml")
    Path("b.toml").symlink_to("a.toml")
    message = (
        "a.toml: symbolic link loop: following the links leads back to them, never to a file "
        "(fix or remove the link)"
    )
    validated = cli("validate", "a.toml")
    assert (validated.exit_code, validated.stderr) == (
        2,
        f"{message}\n0 files valid, 1 unreadable (read as lossmask schema v3)\n",
    )
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "a.toml")
    assert (migrated.exit_code, migrated.stderr) == (
        2,
        f"error: {message}\n0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n",
    )
    with pytest.raises(Exception, match="symbolic link loop"):
        load_config("a.toml")


def test_byte_order_mark_is_named() -> None:
    Path("bom.toml").write_bytes(b"\xef\xbb\xbf" + LEGACY.encode())
    message = (
        "bom.toml:1: starts with a UTF-8 byte order mark (BOM), which TOML does not allow "
        "(remove the BOM: re-save the file as UTF-8 without BOM)"
    )
    validated = cli("validate", "bom.toml")
    # Not TOML at all: an error (2), as the README says, not "invalid" (1).
    assert (validated.exit_code, validated.stderr) == (
        2,
        f"{message}\n0 files valid, 1 unreadable (read as lossmask schema v3)\n",
    )
    piped = run_cli(["validate", "-"], input=b"\xef\xbb\xbf" + LEGACY.encode())
    assert piped.exit_code == 2
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "bom.toml")
    assert (migrated.exit_code, migrated.stderr) == (
        2,
        f"error: {message}\n0 files migrated, 0 unchanged, 1 error" + SOURCE + "\n",
    )
    assert [p.format() for p in migrate_text("\ufeff" + LEGACY, file="bom.toml").problems] == [
        message
    ]


def test_type_in_the_wrong_case_gets_a_suggestion() -> None:
    Path("a.toml").write_text('[data]\ntype = "SFT"\nloss_mask = "Sampled"\n')
    validated = cli("validate", "a.toml")
    assert (validated.exit_code, validated.stderr.splitlines()) == (
        1,
        [
            'a.toml:2: data.type: must be "sft" or "fake", not "SFT" (did you mean "sft"?)',
            'a.toml:3: data.loss_mask: must be "sampled", "all" or a table of roles, not '
            '"Sampled" (did you mean "sampled"?)',
            "0 files valid, 1 invalid (read as lossmask schema v3)",
        ],
    )


# --- prime-rl's model tables ---------------------------------------------------------------------

# The [model] sub-tables prime-rl's trainer config takes (`CompileConfig`, `ActivationCheckpoint-
# Config`, `ActivationOffloadingConfig`, `LoRAConfig`, `DebugModelConfig`, `VLMConfig`).
MODEL_TABLES = """\
[model]
name = "Qwen/Qwen3-0.6B"

[model.compile]
fullgraph = true

[model.ac]
freq = 2

[model.ac_offloading]
max_inflight_activations = 3

[model.lora]
rank = 8

[model.debug]
num_layers = 2

[model.vlm]
vision_encoder_attr = "model.visual"
language_model_attr = "model.language_model"

[data]
name = "x"
loss_mask = "sampled"
"""


def test_prime_rl_model_tables_are_accepted() -> None:
    Path("sft.toml").write_text(MODEL_TABLES)
    validated = cli("validate", "sft.toml")
    assert (validated.exit_code, validated.stderr) == (
        0,
        "1 file valid (read as lossmask schema v3)\n",
    )
    model = load_config("sft.toml").model
    assert model.compile == {"fullgraph": True}
    assert (model.ac, model.ac_offloading, model.debug) == (
        {"freq": 2},
        {"max_inflight_activations": 3},
        {"num_layers": 2},
    )
    # The older spellings still load.
    for old in ("true", '"None"'):
        Path("old.toml").write_text(f'[model]\ncompile = {old}\n[data]\nloss_mask = "all"\n')
        assert cli("validate", "old.toml").exit_code == 0


def test_wrong_compile_value_gets_one_message() -> None:
    Path("sft.toml").write_text('[model]\ncompile = 3\n\n[data]\nloss_mask = "all"\n')
    validated = cli("validate", "sft.toml")
    assert (validated.exit_code, validated.stderr) == (
        1,
        "sft.toml:2: model.compile: must be true or false, a string, or a table, not 3\n"
        "0 files valid, 1 invalid (read as lossmask schema v3)\n",
    )


# --- the same through the API --------------------------------------------------------------------


_API_ON_A_FIFO = """
from lossmask.errors import ConfigError
from lossmask.migrate import MigrateOptions, run
from lossmask.schema.validation import load_config
try:
    load_config("pipe.toml")
except ConfigError as exc:
    print(exc)
result = run(MigrateOptions(["pipe.toml"], reader="prime-rl-pre-2988", mode="check"))
print(result.exit_code, [p.format() for p in result.files[0].problems])
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_api_refuses_a_fifo() -> None:
    os.mkfifo("pipe.toml")
    # In a subprocess with a timeout: were the FIFO opened for a plain read, it would block.
    done = subprocess.run(
        [sys.executable, "-c", _API_ON_A_FIFO],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    message = "pipe.toml: is a named pipe (FIFO), not a regular file; not read"
    assert done.stdout == f"{message}\n2 [{message!r}]\n"


def test_api_reports_deep_nesting() -> None:
    Path("deep.toml").write_text(_nested(1000))
    with pytest.raises(UnreadableFileError) as raised:
        load_config("deep.toml")
    assert str(raised.value) == too_deep("deep.toml", 2000)
    run_result = migrate_run(
        MigrateOptions(["deep.toml"], reader="prime-rl-pre-2988", mode="check")
    )
    assert run_result.exit_code == 2
    assert [p.format() for p in run_result.files[0].problems] == [too_deep("deep.toml", 2000)]


def test_line_numbers_survive_brackets_in_strings_and_line_separators() -> None:
    text = (
        'name = "a[b"\ntags = ["x[", "y"]\n# note \u2028 with a line separator \x85\n\n'
        "[data]\nloss_mask = { assistant = true, assistnt = true }\n"
    )
    Path("a.toml").write_text(text)
    message = (
        'a.toml:6: data.loss_mask.assistnt: unknown role "assistnt" (valid roles are system, '
        'user, assistant, tool; did you mean "assistant"?)'
    )
    validated = cli("validate", "--schema-version", "1", "a.toml")
    assert (validated.exit_code, validated.stderr) == (
        1,
        f"{message}\n0 files valid, 1 invalid (read as prime-rl before #2988, schema v1)\n",
    )
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "a.toml")
    assert migrated.exit_code == 2
    assert migrated.stderr.splitlines()[0] == f"error: {message}"


# --- duplicates, deep keys, fake data, Ctrl-C ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[data]\nname = "x"\n\n[data]\nseq_len = 1\n',
            "a.toml:4: data: table defined twice (first on line 1); TOML allows one definition "
            "of a table (merge the two into one [data] table)",
        ),
        (
            '[data]\nname = "x"\nname = "y"\n',
            "a.toml:3: data.name: set twice (first on line 2); TOML allows one value per key "
            "(keep one of the two)",
        ),
        (
            '[data.loss_mask]\nuser = true\n\n[data]\nloss_mask = "all"\n',
            "a.toml:5: data.loss_mask: set twice (first on line 1); TOML allows one value per key "
            "(keep one of the two)",
        ),
    ],
    ids=["table", "key", "table-then-value"],
)
def test_a_duplicate_names_its_key_in_toml_words(text: str, message: str) -> None:
    Path("a.toml").write_text(text)
    validated = cli("validate", "a.toml")
    assert (validated.exit_code, validated.stderr.splitlines()[0]) == (1, message)
    migrated = cli("migrate", "--check", "a.toml")
    assert (migrated.exit_code, migrated.stderr.splitlines()[0]) == (2, f"error: {message}")
    assert "('data'" not in validated.stderr + migrated.stderr


DEEP_HEADER = LEGACY + "\n[" + ".".join(["a"] * 1000) + "]\nx = 1\n"
DEEP_MESSAGE = (
    "deep.toml:4: nesting too deep: a dotted key of 1,000 parts nests tables 1,000 levels deep, "
    "more than lossmask can follow (shorten the key: write fewer levels of tables)"
)


@pytest.mark.parametrize("tomlkit_behaviour", ["refuses", "recurses"])
def test_a_thousand_part_header_is_refused_for_what_it_is(
    monkeypatch: pytest.MonkeyPatch, tomlkit_behaviour: str
) -> None:
    """tomlkit 0.15.3 refuses keys over 100 levels; 0.13-0.15.0 recurse until Python stops them.
    Either way migrate says what is too deep: the header, not "arrays nested 1 level"."""
    if tomlkit_behaviour == "recurses":
        import tomlkit

        def recurse(text: str) -> None:
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr(tomlkit, "parse", recurse)
    Path("deep.toml").write_text(DEEP_HEADER)
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "deep.toml")
    assert (migrated.exit_code, migrated.stderr) == (
        2,
        f"error: {DEEP_MESSAGE}\n0 files migrated, 0 unchanged, 1 error{SOURCE}\n",
    )
    assert Path("deep.toml").read_text() == DEEP_HEADER
    # Valid TOML that needs no rewrite: read, and said to be valid, by both commands.
    Path("deep.toml").write_text(DEEP_HEADER.replace(LEGACY, ""))
    assert cli("migrate", "--check", "deep.toml").exit_code == 0
    assert cli("validate", "deep.toml").exit_code == 0


def test_sft_data_holding_a_fake_table_is_sft_data_for_migrate_and_load_config() -> None:
    text = '[data]\ntype = "sft"\nname = "org/ds"\n\n[data.fake]\nbatch_size = 2\n'
    Path("a.toml").write_text(text)
    with pytest.warns(UserWarning):
        before = load_config("a.toml", version=1)
    assert before.data.loss_mask.model_dump() == {
        "system": False,
        "user": False,
        "assistant": True,
        "tool": False,
    }
    migrated = cli("migrate", "--reader", "prime-rl-pre-2988", "a.toml")
    assert (migrated.exit_code, migrated.stderr) == (
        0,
        f"Rewriting a.toml\n1 file migrated, 0 unchanged{SOURCE}\n",
    )
    with pytest.warns(UserWarning):
        after = load_config("a.toml", version=2)
    assert after.data.loss_mask == before.data.loss_mask  # v2 reads the same mask v1 trained
    # Without a type, a [data.fake] table is the RL trainer's fake-data loader: no SFT section.
    Path("rl.toml").write_text("[data.fake]\nbatch_size = 2\n")
    assert cli("migrate", "--reader", "prime-rl-pre-2988", "--check", "rl.toml").exit_code == 0


@pytest.mark.parametrize("command", ["validate", "migrate"])
def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """130 (128 + SIGINT), never 1, which would read as "found something to change"."""
    Path("a.toml").write_text(LEGACY)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    if command == "validate":
        monkeypatch.setattr("lossmask.validate.command.validate_file", interrupted)
    else:
        monkeypatch.setattr("lossmask.migrate.runner.process", interrupted)
    result = run_cli([command, "a.toml"])
    assert result.exit_code == 130
    assert result.stderr.startswith("Interrupted")
