"""The real prime-rl configs, migrated in a temporary copy, checked against the corpus README."""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.conftest import CORPUS
from tests.conftest import PRE_2988_SUMMARY as SOURCE

# The README: an SFT file with an SFT [data] table and no loss_mask gains the legacy table.
GAINS_LEGACY_TABLE = {
    "configs/basic/reverse-text/sft.toml",
    "configs/basic/wordle/sft.toml",
    "configs/ci/integration/reverse-text-sft-lora/start.toml",
    "configs/ci/integration/reverse-text-sft-lora/resume.toml",
    "configs/ci/integration/reverse-text-sft/start.toml",
    "configs/ci/integration/reverse-text-sft/resume.toml",
    "configs/ci/integration/reverse-text-sft/full-offload-resume.toml",
    "examples/basic/reverse-text/sft.toml",
    "examples/basic/wordle/sft.toml",
    "examples/vlm_sft/sft.toml",
}
# ... and these stay byte for byte: a full table, fake data, overlays and every RL config.
NAMED_UNTOUCHED = {
    "examples/vlm_sft_moe/sft.toml",
    "configs/debug/fake/sft.toml",
    "configs/ci/slim_sft.toml",
}
SLIM = "configs/ci/slim_sft.toml"
BLOCK = [
    "",
    '# lossmask migrate: explicit legacy mask (v2 defaults to "sampled")',
    "[data.loss_mask]",
    "system = false",
    "user = false",
    "assistant = true",
    "tool = false",
]


def _manifest() -> dict[str, str]:
    rows = (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]
    return {row.split("\t")[0]: row.split("\t")[3] for row in rows}


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "prime-rl"
    shutil.copytree(CORPUS, copy)
    for root, _, names in os.walk(copy):
        for name in names:
            os.chmod(os.path.join(root, name), 0o644)  # the shared corpus is read-only
    return copy


def test_corpus_migrates_exactly_as_its_readme_says(corpus_copy: Path) -> None:
    manifest = _manifest()
    assert set(manifest) >= GAINS_LEGACY_TABLE | NAMED_UNTOUCHED
    rl_files = {name for name, kind in manifest.items() if kind == "rl"}

    result = run_cli(["migrate", "--reader", "prime-rl-pre-2988", str(corpus_copy)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    rewritten = {
        line.removeprefix(f"Rewriting {corpus_copy}/")
        for line in lines
        if line.startswith("Rewriting ")
    }
    assert rewritten == GAINS_LEGACY_TABLE
    # The two RL distillation configs say in a comment how they are launched: stacks of one.
    algo = corpus_copy / "configs/debug/algo"
    assert lines[:2] == [
        f"Stack `rl @ {algo}/sft_distill.toml` (from {algo}/sft_distill.toml:6)",
        f"Stack `rl @ {algo}/sft_distill_lora.toml` (from {algo}/sft_distill_lora.toml:6)",
    ]
    slim = corpus_copy / SLIM
    assert (
        f"Undecided {slim}: meaning depends on how it is launched (an SFT config with no "
        "[data] table: its data comes from the launch); name its stack (`lossmask migrate @ "
        f"base.toml @ this.toml`) or pass --standalone {slim}"
    ) in lines
    assert lines[-1] == (
        "10 files migrated, 14 unchanged, 1 whose meaning depends on how it is launched, 2 stacks"
        + SOURCE
    )

    for name in manifest:
        before = (CORPUS / name).read_text()
        after = (corpus_copy / name).read_text()
        if name in GAINS_LEGACY_TABLE:
            _assert_only_the_block_was_added(name, before, after)
        else:
            assert name in rl_files or name in NAMED_UNTOUCHED
            assert (corpus_copy / name).read_bytes() == (CORPUS / name).read_bytes(), name

    # slim_sft.toml stays undecided, so --check still fails for it ...
    again = run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", str(corpus_copy)])
    assert (again.exit_code, again.stderr.splitlines()[-1]) == (
        1,
        "0 files would be migrated, 24 unchanged, 1 whose meaning depends on how it is launched, "
        "2 stacks" + SOURCE,
    )
    # ... until the user says it is launched alone: then it gains [data] with the legacy mask,
    # since an sft launch without [data] trains the default dataset, assistant only under v1.
    standalone = ["--standalone", str(slim)]
    settled = run_cli(["migrate", "--reader", "prime-rl-pre-2988", *standalone, str(corpus_copy)])
    assert settled.exit_code == 0, settled.output
    assert settled.stderr.splitlines()[-1] == "1 file migrated, 24 unchanged, 3 stacks" + SOURCE
    assert (corpus_copy / SLIM).read_text() == (CORPUS / SLIM).read_text() + "\n" + "\n".join(
        BLOCK[1:]
    ) + "\n"
    final = run_cli(
        ["migrate", "--reader", "prime-rl-pre-2988", "--check", *standalone, str(corpus_copy)]
    )
    assert (final.exit_code, final.stderr.splitlines()[-1]) == (
        0,
        "0 files would be migrated, 25 unchanged, 3 stacks" + SOURCE,
    )


def _assert_only_the_block_was_added(name: str, before: str, after: str) -> None:
    old, new = before.splitlines(), after.splitlines()
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        assert tag in {"equal", "insert"}, (name, tag, old[i1:i2], new[j1:j2])
        added.extend(new[j1:j2] if tag == "insert" else [])
    # The block lands after the last key of [data], and before the next table when there is one.
    # difflib may pair the blank line before or after the block with an existing one.
    assert added in (BLOCK, [*BLOCK, ""], [*BLOCK[1:], ""]), (name, added)
    header = new.index("[data]")
    start = next(i for i in range(header, len(new)) if new[i : i + len(BLOCK)] == BLOCK)
    own_lines = new[header + 1 : start]
    assert not any(line.startswith("[") for line in own_lines), name
    assert " = " in new[start - 1] and not new[start - 1].startswith("#"), name
    assert before.endswith("\n") == after.endswith("\n"), name


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "configs" / "legacy"


def test_legacy_examples_migrate_and_only_those_without_a_mask_change(tmp_path: Path) -> None:
    copy = tmp_path / "legacy"
    shutil.copytree(EXAMPLES, copy)
    result = run_cli(["migrate", "--reader", "prime-rl-pre-2988", str(copy)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"Rewriting {copy}/sft_dotted_keys.toml",
        f"Rewriting {copy}/sft_no_loss_mask.toml",
        f"Rewriting {copy}/sft_partial_table.toml",  # its [val.data] has no loss_mask
        "3 files migrated, 3 unchanged" + SOURCE,
    ]
    partial = (copy / "sft_partial_table.toml").read_text()
    assert "system = true  # the system prompts are part of the task\n\n[val.data]" in partial
    # A partial table (inline or not) already means under v2 what it meant under v1.
    for name in ("rl.toml", "sft_full_table.toml", "sft_inline_table.toml"):
        assert (copy / name).read_bytes() == (EXAMPLES / name).read_bytes()
    assert (
        run_cli(["migrate", "--reader", "prime-rl-pre-2988", "--check", str(copy)]).exit_code == 0
    )
