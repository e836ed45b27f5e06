"""verl: train on `lossmask export --format verl` rows through `data.custom_cls`.

verl's SFT trainer (`verl.trainer.fsdp_sft_trainer`) builds its dataset as
`custom_cls(parquet_files=..., tokenizer=..., config=data_config, max_samples=...)` when
`data.custom_cls.path` / `.name` are set, and reads items of `input_ids`, `attention_mask`,
`position_ids` and `loss_mask` (right-padded to `data.max_length`, or unpadded with
`pad_mode: no_padding`), exactly what its `MultiTurnSFTDataset` returns. Its loss reads
`loss_mask[:, 1:]`: the mask is unshifted, as lossmask exports it. So:

    torchrun -m verl.trainer.fsdp_sft_trainer \\
        data.train_files=rows.parquet data.max_length=4096 \\
        data.custom_cls.path=pkg://lossmask.integrations.verl \\
        data.custom_cls.name=PretokenizedSFTDataset ...

Nothing is re-tokenised: the rows carry lossmask's mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:  # verl's items are tensors; the [train] extra installs torch
    import torch
    from torch.utils.data import Dataset
except ImportError:  # pragma: no cover
    raise ImportError(
        "lossmask.integrations.verl needs torch: pip install 'lossmask[train]'"
    ) from None


class PretokenizedSFTDataset(Dataset):
    """`lossmask export --format verl` parquet rows as verl's SFT items."""

    def __init__(
        self,
        parquet_files: str | Sequence[str],
        tokenizer: Any = None,
        config: Mapping[str, Any] | None = None,
        max_samples: int = -1,
        **_: Any,
    ) -> None:
        import pyarrow.parquet as pq

        config = config or {}
        self.max_length = int(config.get("max_length", 1024))
        self.truncation = config.get("truncation", "error")
        self.pad_mode = config.get("pad_mode", "right")
        if self.truncation not in ("error", "left", "right"):
            raise ValueError(f"unknown truncation {self.truncation!r}")
        if self.pad_mode not in ("right", "no_padding"):
            raise ValueError(f"unknown pad_mode {self.pad_mode!r}")
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_token_id = pad if pad is not None else 0
        files = [parquet_files] if isinstance(parquet_files, str) else list(parquet_files)
        self.rows: list[tuple[list[int], list[int]]] = []
        for file in files:
            table = pq.read_table(file, columns=["input_ids", "loss_mask"])
            self.rows += list(
                zip(
                    table.column("input_ids").to_pylist(),
                    table.column("loss_mask").to_pylist(),
                    strict=True,
                )
            )
        if max_samples is not None and max_samples >= 0:
            self.rows = self.rows[:max_samples]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ids, mask = self.rows[index]
        length = len(ids)
        if length > self.max_length:
            if self.truncation == "error":
                raise ValueError(
                    f"row {index} has {length} ids, more than max_length {self.max_length}"
                )
            cut = (
                slice(-self.max_length, None)
                if self.truncation == "left"
                else slice(self.max_length)
            )
            ids, mask = ids[cut], mask[cut]
            length = len(ids)
        input_ids = torch.tensor(ids, dtype=torch.long)
        loss_mask = torch.tensor(mask, dtype=torch.long)
        position_ids = torch.arange(length, dtype=torch.long)
        if self.pad_mode == "no_padding":
            return {"input_ids": input_ids, "position_ids": position_ids, "loss_mask": loss_mask}
        extra = self.max_length - length
        return {
            "input_ids": torch.cat([input_ids, torch.full((extra,), self.pad_token_id)]),
            "attention_mask": torch.cat(
                [torch.ones(length, dtype=torch.long), torch.zeros(extra, dtype=torch.long)]
            ),
            "position_ids": torch.cat([position_ids, torch.zeros(extra, dtype=torch.long)]),
            "loss_mask": torch.cat([loss_mask, torch.zeros(extra, dtype=torch.long)]),
        }
