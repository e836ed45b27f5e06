"""`lossmask.tokenize` and `lossmask export`: unshifted rows, exactly `mask_conversation`'s mask.

The reference is `mask_conversation` called here on each conversation; every row of every format
must hold its ids, and the mask column must say exactly which of them it trains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import lossmask
from lossmask.masks import load_backend, mask_conversation
from tests.cli_runner import run_cli
from tests.integrations.conftest import write_config

TOKENIZER = "embedded:glm-4.5-notags"


def reference(conversations: list[dict[str, Any]], loss_mask: Any = "sampled") -> list[Any]:
    backend = load_backend(tokenizer=TOKENIZER)
    return [mask_conversation(c, loss_mask, backend) for c in conversations]


@pytest.mark.parametrize(
    ("column", "untrained"),
    [("labels", -100), ("assistant_masks", 0), ("completion_mask", 0), ("loss_mask", 0)],
)
def test_tokenize_writes_the_unshifted_mask(
    tool_conversations: Any, column: str, untrained: int
) -> None:
    conversations, _ = tool_conversations
    rows = lossmask.tokenize(conversations, TOKENIZER, mask_column=column)
    assert rows.column_names == ["input_ids", "attention_mask", column]
    assert len(rows) == len(conversations)
    for row, sequence in zip(rows, reference(conversations), strict=True):
        assert row["input_ids"] == sequence.ids
        assert row["attention_mask"] == [1] * len(sequence.ids)
        trained = [t if column == "labels" else 1 for t in sequence.ids]
        expected = [v if bit else untrained for v, bit in zip(trained, sequence.mask, strict=True)]
        assert row[column] == expected


def test_tokenize_takes_a_path_a_dataset_and_processes(tool_conversations: Any) -> None:
    import datasets

    conversations, path = tool_conversations
    legacy = {"assistant": True}
    expected = [(s.ids, s.mask) for s in reference(conversations, legacy)]

    def got(rows: Any) -> list[tuple[list[int], list[bool]]]:
        return [(r["input_ids"], [x == 1 for x in r["loss_mask"]]) for r in rows]

    from_path = lossmask.tokenize(
        str(path), TOKENIZER, loss_mask=legacy, mask_column="loss_mask", num_proc=2
    )
    assert got(from_path) == expected
    loaded = datasets.load_dataset("json", data_files=str(path), split="train")
    from_dataset = lossmask.tokenize(loaded, TOKENIZER, loss_mask=legacy, mask_column="loss_mask")
    assert got(from_dataset) == expected


def test_tokenize_names_bad_rows_or_drops_them(tool_conversations: Any) -> None:
    conversations, _ = tool_conversations
    bad = {"messages": [{"role": "robot", "content": "beep"}]}
    with pytest.raises(lossmask.integrations.TokenizeError) as caught:
        lossmask.tokenize([*conversations[:2], bad], TOKENIZER)
    assert caught.value.problems == [
        '<conversations>: row 2: messages[0].role: unknown role "robot" (roles are system, user, '
        "assistant, tool)"
    ]
    with pytest.warns(UserWarning, match="dropped 1 row"):
        rows = lossmask.tokenize([*conversations[:2], bad], TOKENIZER, skip_bad_rows=True)
    assert len(rows) == 2


@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ""])
def test_export_writes_a_file_datasets_loads_and_a_manifest(
    tmp_path: Path, tool_conversations: Any, suffix: str
) -> None:
    import datasets

    conversations, data = tool_conversations
    config = write_config(tmp_path / "c.toml", TOKENIZER, loss_mask='"sampled"', seq_len="4096")
    out = tmp_path / f"rows{suffix}"
    result = run_cli(
        ["export", str(config), "--data", str(data), "--format", "labels", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    if suffix == ".parquet":
        rows = datasets.load_dataset("parquet", data_files=str(out), split="train")
    elif suffix == ".arrow":
        rows = datasets.load_dataset("arrow", data_files=str(out), split="train")
    else:
        rows = datasets.load_from_disk(str(out))
    sequences = reference(conversations)
    assert [row["input_ids"] for row in rows] == [s.ids for s in sequences]
    assert [[label != -100 for label in row["labels"]] for row in rows] == [
        s.mask for s in sequences
    ]
    manifest_file = out / "lossmask-manifest.json" if suffix == "" else Path(f"{out}.manifest.json")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    backend = load_backend(tokenizer=TOKENIZER)
    assert manifest["serving_stop_tokens"] == ["<|endoftext|>", "<|user|>", "<|observation|>"]
    assert manifest["serving_stop_ids"] == backend.stop_token_ids()
    assert manifest["backend"] == "chat-template" and manifest["renderer"] is None
    assert manifest["reader"] == "lossmask schema v3" and manifest["loss_mask"] == '"sampled"'
    assert manifest["lossmask_version"] == lossmask.__version__
    assert manifest["tokenizer"]["name"] == TOKENIZER
    assert manifest["columns"] == ["input_ids", "attention_mask", "labels"]
    assert manifest["max_length"] == 4097  # seq_len inputs and their targets
    assert manifest["counts"] == {
        "rows": len(conversations),
        "exported": len(conversations),
        "skipped_nothing_to_train": 0,
        "errors": 0,
        "truncated": 0,
        "tokens": sum(len(s.ids) for s in sequences),
        "trained_tokens": sum(sum(s.mask[1:]) for s in sequences),
    }
    assert result.stdout.splitlines()[0] == (
        f'{out}: {len(conversations)} rows of input_ids + labels (labels), "sampled" on '
        "chat-template, max_length 4097"
    )


def test_export_names_and_skips_bad_rows_and_counts_the_rest(
    tmp_path: Path, tool_conversations: Any
) -> None:
    import datasets

    conversations, data = tool_conversations
    lines = data.read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"messages": [{"role": "user", "content": 42}]}')
    lines.insert(4, "not json")
    lines.append(json.dumps({"messages": [{"role": "user", "content": "only a question"}]}))
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config(tmp_path / "c.toml", TOKENIZER, loss_mask='"sampled"')
    out = tmp_path / "rows.parquet"
    result = run_cli(
        ["export", str(config), "--data", str(data), "--format", "trl", "-o", str(out), "-j", "2"]
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{data}:3: row 2: messages[0].content: must be a string, not a number (42) (write the "
        'text as a string, or as a list of {"type": "text", "text": ...} parts)',
        f"{data}:5: row 4: invalid JSON: Expecting value (column 1) (each line must be one JSON "
        "object)",
    ]
    rows = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert [row["input_ids"] for row in rows] == [s.ids for s in reference(conversations)]
    counts = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))["counts"]
    assert (counts["rows"], counts["exported"], counts["errors"]) == (
        len(conversations) + 3,
        len(conversations),
        2,
    )
    assert counts["skipped_nothing_to_train"] == 1  # the row with no assistant turn


def test_export_refuses_what_it_cannot_write_whole(tmp_path: Path, tool_conversations: Any) -> None:
    _, data = tool_conversations
    config = write_config(
        tmp_path / "c.toml", TOKENIZER, loss_mask='"sampled"', name=f'"{tmp_path}"'
    )
    (tmp_path / "a.jsonl").write_text(data.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.parquet").write_bytes(b"not parquet")
    out = tmp_path / "out" / "rows.parquet"
    result = run_cli(["export", str(config), "--format", "verl", "-o", str(out)])
    assert result.exit_code == 2
    assert not out.exists() and not Path(f"{out}.manifest.json").exists()
    assert "nothing written: a part of the data cannot be read" in result.stderr
    out.parent.mkdir()
    out.write_text("keep me", encoding="utf-8")
    again = run_cli(
        ["export", str(config), "--data", str(data), "--format", "verl", "-o", str(out)]
    )
    assert again.exit_code == 2
    assert again.stderr.strip() == f"{config}: {out} exists; pass --force to replace it"
    assert out.read_text(encoding="utf-8") == "keep me"


def test_max_length_truncates_and_skips_what_trains_nothing(
    tmp_path: Path, tool_conversations: Any
) -> None:
    conversations, data = tool_conversations
    config = write_config(tmp_path / "c.toml", TOKENIZER, loss_mask='"sampled"')
    sequences = reference(conversations)
    first_trained = min(s.mask.index(True) for s in sequences)
    out = tmp_path / "rows.arrow"
    result = run_cli(
        [
            "export",
            str(config),
            "--data",
            str(data),
            "--format",
            "verl",
            "-o",
            str(out),
            "--max-length",
            str(first_trained),
            "--output-format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    counts = json.loads(result.stdout)["counts"]
    assert counts["exported"] == 0 and counts["truncated"] == len(conversations)
    assert counts["skipped_nothing_to_train"] == len(conversations)


def test_export_under_prime_rl_main_writes_main_s_mask(tmp_path: Path) -> None:
    """`--reader prime-rl-main` exports the rows main's own call builds: ids and mask (unshifted)
    from `renderers.build_training_sample` with main's arguments, computed here."""
    datasets = pytest.importorskip("datasets")
    import renderers
    from renderers.configs import config_from_name

    from lossmask.masks.assets.embedded import embedded_tokenizer
    from tests.readers.test_reader_masks import _main_messages_and_tools

    data = Path(__file__).resolve().parents[2] / "examples" / "data" / "weather-tools.jsonl"
    config = tmp_path / "main.toml"
    config.write_text(
        '[tokenizer]\nname = "embedded:glm-4.5"\n\n[renderer]\nname = "glm-4.5"\n\n'
        "[data]\nseq_len = 100000\n\n[data.loss_mask]\nassistant = true\ntool = true\n"
    )
    out = tmp_path / "rows.parquet"
    words = ["export", str(config), "--reader", "prime-rl-main", "--data", str(data)]
    result = run_cli([*words, "--format", "verl", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    renderer = renderers.create_renderer(embedded_tokenizer("glm-4.5"), config_from_name("glm-4.5"))
    expected = []
    for line in data.read_text(encoding="utf-8").splitlines():
        messages, tools = _main_messages_and_tools(json.loads(line))
        sample = renderers.build_training_sample(
            renderer, messages, tools=tools, content_sft_roles={"tool"}, ensure_final_stop=True
        )
        expected.append((list(sample.token_ids), [bool(m) for m in sample.loss_mask]))
    rows = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert [(row["input_ids"], [bool(m) for m in row["loss_mask"]]) for row in rows] == expected
    manifest = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["reader"] == "prime-rl main"
