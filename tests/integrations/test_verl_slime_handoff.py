"""Handing lossmask's mask to verl (a `data.custom_cls` over exported rows) and to slime (a rollout
function), checked against `mask_conversation` and each trainer's documented item contract."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lossmask.masks import load_backend, mask_conversation
from tests.cli_runner import run_cli
from tests.integrations.conftest import write_config

torch = pytest.importorskip("torch")
TOKENIZER = "embedded:glm-4.5-notags"


def references(conversations: list[dict[str, Any]]) -> list[Any]:
    backend = load_backend(tokenizer=TOKENIZER)
    return [mask_conversation(c, "sampled", backend) for c in conversations]


def test_verl_custom_dataset_gives_verls_items(tmp_path: Path, tool_conversations: Any) -> None:
    from lossmask.integrations.verl import PretokenizedSFTDataset

    conversations, data = tool_conversations
    config = write_config(tmp_path / "c.toml", TOKENIZER, loss_mask='"sampled"')
    out = tmp_path / "rows.parquet"
    result = run_cli(
        ["export", str(config), "--data", str(data), "--format", "verl", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    expected = references(conversations)
    width = max(len(s.ids) for s in expected) + 3
    dataset = PretokenizedSFTDataset(str(out), None, {"max_length": width}, max_samples=-1)
    assert len(dataset) == len(conversations)
    for k, sequence in enumerate(expected):
        item = dataset[k]
        n = len(sequence.ids)
        assert item["input_ids"].tolist() == sequence.ids + [0] * (width - n)
        assert item["attention_mask"].tolist() == [1] * n + [0] * (width - n)
        assert item["position_ids"].tolist() == list(range(n)) + [0] * (width - n)
        assert item["loss_mask"].tolist() == [int(b) for b in sequence.mask] + [0] * (width - n)
    unpadded = PretokenizedSFTDataset(
        [str(out)], None, {"max_length": width, "pad_mode": "no_padding"}
    )
    assert unpadded[0]["loss_mask"].tolist() == [int(b) for b in expected[0].mask]
    short = PretokenizedSFTDataset(str(out), None, {"max_length": 8})
    with pytest.raises(ValueError, match="more than max_length 8"):
        short[0]
    right = PretokenizedSFTDataset(str(out), None, {"max_length": 8, "truncation": "right"})
    assert right[0]["input_ids"].tolist() == expected[0].ids[:8]


def test_slime_rollout_function_fills_samples_with_lossmasks_mask(
    tool_conversations: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lossmask.integrations import slime

    monkeypatch.delenv("LOSSMASK_CONFIG", raising=False)
    conversations, _ = tool_conversations
    samples = [
        [SimpleNamespace(prompt=c["messages"], metadata={"tools": c.get("tools")})]
        for c in conversations
    ]
    buffer = SimpleNamespace(get_samples=lambda n: samples[:n])
    args = SimpleNamespace(rollout_batch_size=len(samples), hf_checkpoint=TOKENIZER)
    out = slime.generate_rollout(args, 0, buffer)
    for (sample,), sequence in zip(out, references(conversations), strict=True):
        assert sample.tokens == sequence.ids
        assert sample.reward == 0
        # slime's loss mask covers the response; before it nothing trains.
        full = [0] * (len(sample.tokens) - sample.response_length) + sample.loss_mask
        assert full == [int(b) for b in sequence.mask]
        assert sample.loss_mask[0] == 1  # the response starts at the first trained token
