"""Tables of a prime-rl-shaped SFT trainer config that mean the same under every schema version.

Only `[data]` (which holds `loss_mask`) differs between versions; it lives in `v1.py` / `v2.py`.
Tables here accept keys they do not model (real configs carry many trainer-specific keys), and the
loader reports each such key as a warning instead of dropping it silently. Docstrings and field
descriptions are user-facing: they become the hover text editors show through the JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PassThroughTable = dict[str, Any]
"""A table lossmask keeps but does not interpret (deployment, inference, eval, ...)."""


class OpenTable(BaseModel):
    """Base for tables that tolerate keys lossmask does not model (reported as warnings)."""

    model_config = ConfigDict(extra="allow", strict=True)


ChunkSizeWord = Annotated[
    Literal["auto", "disabled"],
    Field(
        json_schema_extra={
            "enumDescriptions": [
                "The trainer chooses the chunk size.",
                "No chunks: the LM head runs over all positions at once.",
            ]
        }
    ),
]


class ModelConfig(OpenTable):
    """The model to fine-tune."""

    name: str | None = Field(
        default=None,
        description=(
            "Hugging Face model id or local checkpoint directory. Omit it to use lossmask's "
            "embedded "
            "tiny model (built from a config, no download)."
        ),
    )
    impl: str | None = Field(default=None, description="Model implementation (trainer-specific).")
    attn: str | None = Field(default=None, description="Attention implementation, e.g. `sdpa`.")
    compile: bool | str | PassThroughTable | None = Field(
        default=None,
        description=(
            "Compile the model with `torch.compile`: prime-rl takes a `[model.compile]` table "
            "(`fullgraph = true`, ...); older configs write true/false or a string."
        ),
    )
    optimization_dtype: str | None = Field(
        default=None, description="Dtype of the optimizer's weights."
    )
    reduce_dtype: str | None = Field(default=None, description="Dtype of gradient reductions.")
    optim_cpu_offload: bool | None = Field(
        default=None, description="Offload optimizer state to CPU."
    )
    full_offload: bool | None = Field(
        default=None, description="Offload weights and optimizer to CPU."
    )
    ep: int | None = Field(default=None, description="Expert-parallel degree for MoE models.")
    fused_lm_head_token_chunk_size: Annotated[int, Field(ge=1)] | ChunkSizeWord | None = Field(
        default=None,
        description=(
            "Positions per chunk of the LM head and cross-entropy (prime-rl's key): an integer "
            '>= 1, "auto" (the trainer chooses) or "disabled" (the head over all positions at '
            "once). lossmask's reference trainer always gathers the trained positions first; "
            'absent means "auto" there (256 positions a chunk).'
        ),
    )
    lora: PassThroughTable | None = Field(
        default=None, description="LoRA settings (trainer-specific)."
    )
    vlm: PassThroughTable | None = Field(
        default=None, description="Vision-language model settings."
    )
    ac: PassThroughTable | None = Field(
        default=None, description="Activation checkpointing settings (`freq`, `mode`, ...)."
    )
    ac_offloading: PassThroughTable | None = Field(
        default=None, description="Activation offloading settings (trainer-specific)."
    )
    debug: PassThroughTable | None = Field(
        default=None, description="Debugging settings of the model (trainer-specific)."
    )


class TokenizerConfig(OpenTable):
    """The tokenizer, when it differs from the model's."""

    name: str | None = Field(
        default=None,
        description=(
            "Hugging Face tokenizer id or local directory. Omit it to use the model's tokenizer, "
            "or "
            "lossmask's embedded tiny GLM-4.5 tokenizer when the model is embedded too."
        ),
    )
    stop_tokens: list[str] | None = Field(
        default=None,
        description=(
            "The tokens a server stops on after an assistant turn, for the chat-template path: "
            "what `generation_config.json`'s `eos_token_id` lists (GLM-4.5: `<|endoftext|>`, "
            "`<|user|>`, `<|observation|>`). Needed when the tokenizer has no "
            "`generation_config.json` and its template closes turns with other tokens than EOS; "
            "like axolotl's `eot_tokens`. A renderer has its own stops."
        ),
    )


class RendererConfig(OpenTable):
    """The renderer that turns conversations into tokens with a per-token sampled signal.

    Without a `[renderer]` table the tokenizer's chat template is used, which has no sampled signal.
    """

    name: str | None = Field(
        default=None,
        description=(
            'Renderer from the `renderers` package: `"glm-4.5"`, `"qwen3"`, ... or `"auto"` to '
            "pick "
            "one from the model name."
        ),
    )


class OptimConfig(OpenTable):
    """The optimizer (AdamW)."""

    lr: float = Field(default=1e-5, ge=0, description="Peak learning rate.")
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay.")
    betas: list[float] = Field(
        default=[0.9, 0.999],
        min_length=2,
        max_length=2,
        description="AdamW betas `[beta1, beta2]`.",
    )
    max_norm: float = Field(default=1.0, gt=0, description="Gradient-norm clip.")
    warmup_steps: int = Field(default=0, ge=0, description="Linear warmup steps.")


class CheckpointConfig(OpenTable):
    """Checkpointing. An empty `[ckpt]` table checkpoints at the end of training."""

    interval: int | None = Field(
        default=None, gt=0, description="Save every this many steps (and at the end)."
    )
    skip_optimizer: bool = Field(default=False, description="Do not save optimizer state.")
    skip_scheduler: bool = Field(default=False, description="Do not save scheduler state.")
    keep_last: int | None = Field(
        default=None, gt=0, description="Keep only this many most recent checkpoints."
    )
    resume_step: int | None = Field(
        default=None,
        ge=-1,
        description="Resume from the checkpoint of this step; -1 resumes from the latest one.",
    )


class ResumeConfig(OpenTable):
    """Resume from a saved checkpoint."""

    step: int | None = Field(default=None, ge=0, description="Checkpoint step to resume from.")


class DataConfigBase(OpenTable):
    """An SFT dataset: where conversations come from and how they are batched."""

    type: Literal["sft", "fake"] = Field(
        default="sft",
        description=(
            '`"sft"`: conversations (messages with roles), masked by `loss_mask`. `"fake"`: random '
            "tokens for throughput tests; it has no messages, so `loss_mask` does not apply."
        ),
        json_schema_extra={
            "enumDescriptions": [
                "Conversations with roles, masked by `loss_mask`.",
                "Random tokens for throughput tests; `loss_mask` does not apply.",
            ]
        },
    )
    name: str | None = Field(
        default=None,
        description=(
            "Dataset: a Hugging Face dataset id (read from the local cache), a local JSONL, JSON "
            "or parquet file or folder, a `save_to_disk` folder, or a builder such as "
            '`"json"` with `data_files`. Omit it to use lossmask\'s embedded synthetic '
            "tool-calling conversations."
        ),
    )
    subsets: list[str] | None = Field(
        default=None,
        description="Subsets of the dataset to read, each with split `train` or `splits[i]`.",
    )
    splits: list[str] | None = Field(
        default=None, description="Splits to read (default `train`); with `subsets`, one each."
    )
    data_files: list[str] | None = Field(
        default=None,
        description=(
            'Files or glob patterns for `name` (a builder such as `"json"` or `"parquet"`, '
            "or a folder); together they form the split `train`."
        ),
    )
    seq_len: int = Field(
        default=2048, gt=0, description="Maximum tokens per sample; longer ones are cut."
    )
    batch_size: int = Field(default=8, gt=0, description="Samples per optimizer step (global).")
    micro_batch_size: int | None = Field(
        default=None,
        gt=0,
        description="Samples per forward pass; must divide `batch_size`. Defaults to `batch_size`.",
    )
    num_examples: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Embedded synthetic data: how many conversations to generate (default 2048). "
            "A JSONL file: use only its first N rows."
        ),
    )
    pack: bool = Field(
        default=False,
        description=(
            "Pack samples end to end into rows of `seq_len` (attention stays within a sample, "
            "positions restart per sample) instead of padding each one."
        ),
    )


class SFTConfigBase(OpenTable):
    """Shared top level of an SFT trainer config; `data` and `val` are added per version."""

    max_steps: int | None = Field(default=None, gt=0, description="Optimizer steps to run.")
    seed: int = Field(default=0, description="Seed for data order and model initialisation.")
    output_dir: str | None = Field(
        default=None, description="Where checkpoints, metrics and plots are written."
    )
    dist_timeout_seconds: int | None = Field(
        default=None, gt=0, description="Timeout of distributed collectives."
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    renderer: RendererConfig | None = Field(
        default=None,
        description=(
            "The renderer that turns conversations into tokens with a per-token sampled signal. "
            "Without it the tokenizer's chat template is used, which has no sampled signal."
        ),
    )
    optim: OptimConfig = Field(default_factory=OptimConfig)
    ckpt: CheckpointConfig | None = Field(
        default=None,
        description="Checkpointing. An empty `[ckpt]` table checkpoints at the end of training.",
    )
    resume: ResumeConfig | None = Field(default=None, description="Resume from a saved checkpoint.")
    scheduler: PassThroughTable | None = Field(
        default=None, description="Learning-rate schedule (trainer-specific; not checked)."
    )
    deployment: PassThroughTable | None = Field(
        default=None, description="GPU layout of the run (trainer-specific; not checked)."
    )
    inference: PassThroughTable | None = Field(
        default=None,
        description="Inference server for online evals (trainer-specific; not checked).",
    )
    eval: PassThroughTable | None = Field(
        default=None, description="Online evaluation (trainer-specific; not checked)."
    )
    slurm: PassThroughTable | None = Field(
        default=None, description="SLURM job settings (trainer-specific; not checked)."
    )
    wandb: PassThroughTable | None = Field(
        default=None, description="Weights & Biases logging (trainer-specific; not checked)."
    )
    log: PassThroughTable | None = Field(
        default=None, description="Logging settings (trainer-specific; not checked)."
    )
