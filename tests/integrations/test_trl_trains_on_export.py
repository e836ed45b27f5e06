"""TRL 1.16's `SFTTrainer` trains on `lossmask export` rows, and exactly lossmask's mask enters
its loss.

The reference is `mask_conversation`, called here on each conversation (the function `show`,
`audit` and lossmask's trainer use). What enters TRL's loss is read where the loss is computed:
the `labels` of every collated batch, as `compute_loss` receives them. The model shifts them
itself, so label k != -100 (k >= 1) is exactly "token k is a trained target". Every row must be
seen once, and each one's trained positions must equal lossmask's, token for token: on GLM-4.5
tool conversations that includes the `<|observation|>` after every `</tool_call>`, which a role
mask leaves out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lossmask.masks import load_backend, mask_conversation
from tests.cli_runner import run_cli
from tests.integrations.conftest import tiny_llama, write_config

pytest.importorskip("trl")

TOKENIZER = "embedded:glm-4.5-notags"  # the hub's GLM-4.5 shape: no {% generation %} tags


def train_and_record(
    dataset: Any, tokenizer: Any, **config: Any
) -> list[tuple[list[int], list[int]]]:
    """One epoch of TRL's SFTTrainer over `dataset`; every collated row's (input_ids, labels),
    padding removed, as `compute_loss` got them."""
    from trl import SFTConfig, SFTTrainer

    seen: list[tuple[list[int], list[int]]] = []

    class Recording(SFTTrainer):
        def compute_loss(self, model: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            for ids, labels, attention in zip(
                inputs["input_ids"].tolist(),
                inputs["labels"].tolist(),
                inputs["attention_mask"].tolist(),
                strict=True,
            ):
                length = sum(attention)
                seen.append((ids[:length], labels[:length]))
            return super().compute_loss(model, inputs, *args, **kwargs)

    args = SFTConfig(
        output_dir=str(Path(config.pop("output_dir"))),
        num_train_epochs=1,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        max_length=None,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
        **config,
    )
    trainer = Recording(
        model=tiny_llama(len(tokenizer)),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(loss == loss and loss > 0 for loss in losses)  # trained, finite
    return seen


def reference(conversations: list[dict[str, Any]]) -> dict[tuple[int, ...], list[int]]:
    """input_ids -> the positions lossmask trains (k >= 1), straight from `mask_conversation`."""
    backend = load_backend(tokenizer=TOKENIZER)
    out = {}
    for conversation in conversations:
        sequence = mask_conversation(conversation, "sampled", backend)
        out[tuple(sequence.ids)] = [k for k, trained in enumerate(sequence.mask) if trained and k]
    return out


def assert_trl_trains_lossmask_mask(
    seen: list[tuple[list[int], list[int]]], expected: dict[tuple[int, ...], list[int]]
) -> None:
    assert sorted(tuple(ids) for ids, _ in seen) == sorted(expected)  # every row exactly once
    observation = load_backend(tokenizer=TOKENIZER).tokenizer.convert_tokens_to_ids(
        "<|observation|>"
    )
    stops_trained = 0
    for ids, labels in seen:
        trained = [k for k, label in enumerate(labels) if label != -100 and k]
        assert trained == expected[tuple(ids)]
        assert all(labels[k] == ids[k] for k in trained)
        stops_trained += sum(ids[k] == observation for k in trained)
    assert stops_trained > 0  # the GLM tool-call stop is in TRL's loss


@pytest.mark.parametrize("export_format", ["trl", "labels"])
def test_sft_trainer_trains_exactly_the_exported_mask(
    tmp_path: Path, tool_conversations: Any, export_format: str
) -> None:
    import datasets

    conversations, data = tool_conversations
    config = write_config(tmp_path / "c.toml", TOKENIZER, loss_mask='"sampled"')
    out = tmp_path / "rows.parquet"
    result = run_cli(
        ["export", str(config), "--data", str(data), "--format", export_format, "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    rows = datasets.load_dataset("parquet", data_files=str(out), split="train")
    column = "assistant_masks" if export_format == "trl" else "labels"
    assert rows.column_names == ["input_ids", "attention_mask", column]
    tokenizer = load_backend(tokenizer=TOKENIZER).tokenizer
    seen = train_and_record(rows, tokenizer, output_dir=tmp_path / "trl")
    assert_trl_trains_lossmask_mask(seen, reference(conversations))


def test_completion_mask_rows_from_the_api_under_completion_only_loss(
    tmp_path: Path, tool_conversations: Any
) -> None:
    import lossmask

    conversations, _ = tool_conversations
    rows = lossmask.tokenize(conversations, TOKENIZER, mask_column="completion_mask")
    assert rows.column_names == ["input_ids", "attention_mask", "completion_mask"]
    tokenizer = load_backend(tokenizer=TOKENIZER).tokenizer
    seen = train_and_record(rows, tokenizer, output_dir=tmp_path / "trl", completion_only_loss=True)
    assert_trl_trains_lossmask_mask(seen, reference(conversations))
