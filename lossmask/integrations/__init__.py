"""lossmask and the trainers people run (docs/integrations.md).

Two directions, one unshifted mask:

- *hand them the mask*: `tokenize` turns conversations into rows of `input_ids` plus the mask in
  the column a trainer reads (`labels` with -100, TRL's `assistant_masks` / `completion_mask`,
  verl's and slime's `loss_mask`); `export` writes such rows to parquet, Arrow or a
  `save_to_disk` folder with a manifest;
- *audit what they built*: `lossmask.masks.app.tokenized` reads such rows back and reports what
  `lossmask audit` reports for lossmask's own masks.

Every column here is aligned to `input_ids`, unshifted: position k says whether token k is a
trained target, as Hugging Face models (which shift labels inside the loss), TRL, axolotl,
LLaMA-Factory, verl (`loss_mask[:, 1:]` in its loss) and slime read them. The shifted arrays of
`build_sample` (`target_ids`, `loss_mask`) are for lossmask's own trainer only.
"""

from lossmask.integrations.columns import EXPORT_FORMATS, MASK_COLUMNS, MaskColumn
from lossmask.integrations.tokenize import TokenizeError, tokenize

__all__ = ["EXPORT_FORMATS", "MASK_COLUMNS", "MaskColumn", "TokenizeError", "tokenize"]
