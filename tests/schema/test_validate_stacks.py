"""`lossmask validate @ a.toml @ b.toml`: the composed config, each problem where it was set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_cli

BASE = (
    '[model]\nname = "m"\n\n[data]\nname = "x"\nbatch_size = 4\n\n[data.loss_mask]\nuser = true\n'
)


def _validate(tmp: Path, files: dict[str, str], *words: str) -> tuple[int, list[str]]:
    for name, text in files.items():
        (tmp / name).write_text(text)
    result = run_cli(["validate", "--reader", "lossmask", "--schema-version", "2", *words])
    return result.exit_code, result.stderr.splitlines()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_a_problem_is_placed_in_the_layer_and_line_that_set_it(tmp_path: Path) -> None:
    overlay = "# longer runs\n[data]\nseq_len = 8192\n\n[data.loss_mask]\nassistnt = true\n"
    code, lines = _validate(
        tmp_path, {"base.toml": BASE, "o.toml": overlay}, "@", "base.toml", "@", "o.toml"
    )
    assert (code, lines) == (
        1,
        [
            'o.toml:6: data.loss_mask.assistnt: unknown role "assistnt" (valid roles are system, '
            'user, assistant, tool; did you mean "assistant"?)',
            "0 files valid, 1 invalid (read as lossmask schema v2)",
        ],
    )


def test_an_overlay_is_judged_with_its_base(tmp_path: Path) -> None:
    files = {"base.toml": BASE, "o.toml": "[data]\nseq_len = 8192\n"}
    # Alone, the overlay has no loss_mask; launched on its base, the base's table applies.
    alone_code, alone = _validate(tmp_path, files, "o.toml")
    assert alone_code == 0 and "o.toml:1: data: warning: no loss_mask" in alone[0]
    code, lines = _validate(tmp_path, files, "@", "base.toml", "@", "o.toml")
    assert (code, lines) == (0, ["1 file valid (read as lossmask schema v2)"])


def test_a_fragment_is_nested_under_its_key(tmp_path: Path) -> None:
    files = {
        "base.toml": '[model]\nname = "m"\n',
        "data.toml": 'name = "x"\nbatch_size = 4\nmicro_batch_size = 3\nloss_mask = "sampled"\n',
    }
    code, lines = _validate(tmp_path, files, "@", "base.toml", "--data", "@", "data.toml")
    assert (code, lines) == (
        1,
        [
            "data.toml:3: data.micro_batch_size: must divide batch_size (4), not 3",
            "0 files valid, 1 invalid (read as lossmask schema v2)",
        ],
    )


def test_an_sft_stack_without_data_is_warned_about(tmp_path: Path) -> None:
    code, lines = _validate(tmp_path, {"slim.toml": '[slurm]\njob_name = "x"\n'}, "@", "slim.toml")
    assert (code, lines) == (
        0,
        [
            "slim.toml: data: warning: no [data] table in this stack: schema version 2 trains "
            '"sampled" tokens of the default dataset, where version 1 trained assistant messages '
            "only (run `lossmask migrate` on the stack to keep the old meaning)",
            "1 file valid (read as lossmask schema v2)",
        ],
    )


def test_a_missing_layer_is_an_error_exit_2(tmp_path: Path) -> None:
    code, lines = _validate(tmp_path, {"base.toml": BASE}, "@", "base.toml", "@", "nope.toml")
    assert code == 2
    assert lines[0].startswith("nope.toml: cannot read: ")
    assert lines[-1] == "0 files valid, 1 unreadable (read as lossmask schema v2)"
