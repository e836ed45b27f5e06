"""Let TRL 1.16 prepare GLM-4.5 tool conversations as it would for training, and save its rows.

    python examples/integrations/trl_prepared_rows.py --loss assistant_only -o trl-rows.parquet
    python examples/integrations/trl_prepared_rows.py --loss completion_only -o trl-rows.parquet
    lossmask audit --tokenized trl-rows.parquet --tokenizer embedded:glm-4.5

The tokenizer is lossmask's embedded one (GLM-4.5's special tokens; no real GLM-4.5 vocabulary is
published in a registry) carrying TRL's own vendored GLM-4.5 template (`trl/chat_templates/
glm4moe.jinja`); with `assistant_only_loss` TRL swaps in its tagged training template. The
conversations are `generate_conversations(64, seed=0)`, the bundled example data. The rows saved
are `SFTTrainer(...).train_dataset`'s `input_ids` and `labels`: what TRL would train on.
"""

from __future__ import annotations

import argparse
import copy
import importlib.resources
import json

from lossmask.masks import generate_conversations, load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--loss", choices=["assistant_only", "completion_only"], required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    import datasets
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    tokenizer = copy.copy(load_tokenizer("embedded:glm-4.5"))
    template = importlib.resources.files("trl") / "chat_templates" / "glm4moe.jinja"
    tokenizer.chat_template = template.read_text()
    rows = []
    for conversation in generate_conversations(64, seed=0):
        messages = conversation["messages"]
        for message in messages:
            for call in message.get("tool_calls", []):
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        if args.loss == "assistant_only":
            rows.append({"messages": messages, "tools": conversation["tools"]})
        else:
            first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
            rows.append(
                {
                    "prompt": messages[:first],
                    "completion": messages[first:],
                    "tools": conversation["tools"],
                }
            )
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    config = SFTConfig(
        output_dir="trl-prepare",
        max_length=None,
        use_cpu=True,
        report_to="none",
        assistant_only_loss=args.loss == "assistant_only",
        completion_only_loss=args.loss == "completion_only",
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    trainer.train_dataset.select_columns(["input_ids", "labels"]).to_parquet(args.output)
    print(f"wrote {len(trainer.train_dataset)} rows TRL prepared to {args.output}")


if __name__ == "__main__":
    main()
