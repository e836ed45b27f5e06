from pathlib import Path
from typing import Annotated, Literal

import pytest
import tomli_w
from pydantic import BaseModel, Field, ValidationError
from pydantic_config import ConfigFileError

from prime_rl.configs.env_server import EnvServerConfig
from prime_rl.configs.evals import EvalsConfig
from prime_rl.configs.inference import InferenceConfig
from prime_rl.configs.orchestrator import OrchestratorConfig
from prime_rl.configs.rl import RLConfig
from prime_rl.configs.sft import SFTConfig
from prime_rl.configs.trainer import ModelConfig as TrainerModelConfig
from prime_rl.configs.trainer import TrainerConfig
from prime_rl.utils.config import BaseConfig, cli, dump_resolved_config

# All config config classes
CONFIG_CLASSES = [
    RLConfig,
    TrainerConfig,
    SFTConfig,
    OrchestratorConfig,
    InferenceConfig,
    EnvServerConfig,
    EvalsConfig,
]


def get_config_files() -> list[Path]:
    """Any TOML file inside `configs/`, `examples/` or `k8s/`."""
    config_files = list(Path("configs").rglob("*.toml"))
    example_files = list(Path("examples").rglob("*.toml"))
    # The k8s example configs are mounted into the chart's containers verbatim, so a
    # stale key there breaks a deploy with nothing else to catch it.
    k8s_files = list(Path("k8s").rglob("*.toml"))

    return config_files + example_files + k8s_files


@pytest.mark.parametrize("config_file", get_config_files(), ids=lambda x: x.as_posix())
def test_load_configs(config_file: Path):
    """Tests that all config files can be loaded by at least one config class."""
    could_parse = []
    for config_cls in CONFIG_CLASSES:
        try:
            cli(config_cls, args=["@", config_file.as_posix()])
            could_parse.append(True)
        except (ValidationError, ConfigFileError, SystemExit):
            could_parse.append(False)
    assert any(could_parse), f"No config class could be parsed from {config_file}"


class NestedConfig(BaseConfig):
    lr: float = 1e-4
    weight_decay: float = 0.01
    name: str = "default"


class VariantA(BaseModel):
    type: Literal["a"] = "a"
    alpha: float = 0.1
    shared: int = 1


class VariantB(BaseModel):
    type: Literal["b"] = "b"
    beta: float = 0.2
    shared: int = 1


VariantType = Annotated[VariantA | VariantB, Field(discriminator="type")]


class DummyConfig(BaseConfig):
    name: str = "experiment"
    seed: int = 42
    nested: NestedConfig = NestedConfig()
    variant: VariantType = VariantA()


def write_toml(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        tomli_w.dump(data, f)


def test_defaults():
    """All defaults are applied when no TOML or CLI args are given."""
    config = cli(DummyConfig, args=[])
    assert config.name == "experiment"
    assert config.seed == 42
    assert config.nested.lr == 1e-4
    assert config.nested.weight_decay == 0.01
    assert config.variant.type == "a"
    assert config.variant.alpha == 0.1


def test_toml_partial_nested_override(tmp_path):
    """Partially overriding a nested model preserves unset field defaults."""
    write_toml(tmp_path / "cfg.toml", {"nested": {"lr": 3e-4}})
    config = cli(DummyConfig, args=["@", str(tmp_path / "cfg.toml")])
    assert config.nested.lr == 3e-4
    assert config.nested.weight_decay == 0.01
    assert config.nested.name == "default"


def test_toml_discriminated_union_default_type(tmp_path):
    """Overriding a discriminated union field without 'type' uses the default variant."""
    write_toml(tmp_path / "cfg.toml", {"variant": {"alpha": 0.9}})
    config = cli(DummyConfig, args=["@", str(tmp_path / "cfg.toml")])
    assert config.variant.type == "a"
    assert config.variant.alpha == 0.9
    assert config.variant.shared == 1


def test_toml_discriminated_union_switch_variant(tmp_path):
    """Providing an explicit 'type' switches to that variant."""
    write_toml(tmp_path / "cfg.toml", {"variant": {"type": "b"}})
    config = cli(DummyConfig, args=["@", str(tmp_path / "cfg.toml")])
    assert config.variant.type == "b"
    assert config.variant.beta == 0.2


def test_toml_discriminated_union_override_switch_variant(tmp_path):
    """Providing an explicit 'type' overrides the default variant."""
    write_toml(tmp_path / "cfg.toml", {"variant": {"type": "b", "beta": 0.5}})
    config = cli(DummyConfig, args=["@", str(tmp_path / "cfg.toml")])
    assert config.variant.type == "b"
    assert config.variant.beta == 0.5


def test_cli_overrides_defaults():
    """CLI args override defaults."""
    config = cli(DummyConfig, args=["--name", "my-run", "--seed", "7"])
    assert config.name == "my-run"
    assert config.seed == 7
    assert config.nested.lr == 1e-4


def test_toml_overrides_defaults(tmp_path):
    """TOML overrides defaults."""
    write_toml(tmp_path / "cfg.toml", {"name": "my-run", "seed": 7, "nested": {"lr": 3e-4}})
    config = cli(DummyConfig, args=["@", str(tmp_path / "cfg.toml")])
    assert config.name == "my-run"
    assert config.seed == 7
    assert config.nested.lr == 3e-4


def test_cli_overrides_toml(tmp_path):
    """CLI args override TOML."""
    write_toml(tmp_path / "cfg.toml", {"seed": 1, "nested": {"lr": 3e-4}})
    config = cli(DummyConfig, args=["@", str(tmp_path / "cfg.toml"), "--seed", "99", "--nested.lr", "5e-5"])
    assert config.seed == 99
    assert config.nested.lr == 5e-5
    # TOML value not overridden by CLI should still be applied (not reverted to class default)
    assert config.nested.weight_decay == 0.01


def test_removed_fused_lm_head_chunk_size_field_is_rejected():
    with pytest.raises(ValidationError, match="fused_lm_head_chunk_size"):
        TrainerModelConfig.model_validate({"fused_lm_head_chunk_size": "auto"})


@pytest.mark.parametrize("config_cls", [TrainerConfig, SFTConfig])
def test_optimizer_state_offload_keeps_legacy_default(config_cls):
    config = config_cls.model_validate({})

    assert config.model.optim_cpu_offload is True
    assert config.model.full_offload is None


@pytest.mark.parametrize("config_cls", [TrainerConfig, SFTConfig])
def test_full_optimizer_offload_disables_gradient_clipping(config_cls):
    with pytest.warns(UserWarning, match="Gradient clipping prevents optimizer-in-backward"):
        config = config_cls.model_validate(
            {
                "model": {"optim_cpu_offload": False, "full_offload": True},
                "optim": {"max_norm": 1.0},
            }
        )

    assert config.optim.max_norm is None


@pytest.mark.parametrize("config_cls", [TrainerConfig, SFTConfig])
def test_full_optimizer_offload_accepts_debug_backend(config_cls):
    config = config_cls.model_validate(
        {
            "model": {
                "optim_cpu_offload": False,
                "full_offload": {
                    "cpu_optimizer_backend": "torch",
                },
            },
            "optim": {"max_norm": None},
        }
    )

    assert config.model.full_offload is not None
    assert config.model.full_offload.cpu_optimizer_backend == "torch"


@pytest.mark.parametrize("config_cls", [TrainerConfig, SFTConfig])
@pytest.mark.parametrize("optimizer_type", ["sgd", "muon"])
def test_full_optimizer_offload_requires_supported_optimizer(config_cls, optimizer_type):
    with pytest.raises(ValidationError, match="Full optimizer offload only supports AdamW and SignSGD"):
        config_cls.model_validate(
            {
                "model": {"optim_cpu_offload": False, "full_offload": True},
                "optim": {"type": optimizer_type, "max_norm": None},
            }
        )


@pytest.mark.parametrize("config_cls", [TrainerConfig, SFTConfig])
def test_full_optimizer_offload_accepts_sign_sgd(config_cls):
    config = config_cls.model_validate(
        {
            "model": {"optim_cpu_offload": False, "full_offload": True},
            "optim": {"type": "sign_sgd", "max_norm": None},
        }
    )
    assert config.model.full_offload is not None
    assert config.optim.type == "sign_sgd"


def test_resolved_json_roundtrips_explicit_none(tmp_path):
    """An explicit None override survives the write/re-parse round-trip used by launches:
    resolved configs are JSON, which keeps nulls (TOML cannot)."""
    import json

    config = cli(TrainerConfig, args=["--model.compile", "None", "--optim.max_norm", "None"])
    assert config.model.compile is None
    assert config.optim.max_norm is None

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(dump_resolved_config(config)))
    reloaded = cli(TrainerConfig, args=["@", str(path)])
    assert reloaded.model.compile is None
    assert reloaded.optim.max_norm is None
    assert reloaded == config


def test_env_algo_overrides_top_level():
    config = OrchestratorConfig.model_validate(
        {
            "renderer": {"name": "qwen3"},  # echo needs the renderer's role attribution
            "algo": {"type": "echo"},
            "train": {
                "source": [
                    {"env": {"taskset": {"id": "reverse-text"}}, "algo": {"type": "grpo"}},
                    {"env": {"taskset": {"id": "reverse-text"}}, "name": "b"},
                ]
            },
        }
    )
    env_a, env_b = config.train.source
    # Env a sets its own algorithm; only env b inherits the top-level echo algorithm.
    assert env_a.algo is not None and env_a.algo.type == "grpo"
    assert env_b.algo is not None and env_b.algo.type == "echo"

    # Resolved configs round-trip.
    dumped = config.model_dump(exclude_none=True)
    reloaded = OrchestratorConfig.model_validate(dumped)
    assert reloaded.train.source[0].algo is not None and reloaded.train.source[0].algo.type == "grpo"

    with pytest.raises(ValidationError, match="env"):
        OrchestratorConfig.model_validate(
            {
                "renderer": {"name": "qwen3"},
                "train": {"env": [{"env": {"taskset": {"id": "removed"}}}]},
            }
        )

    with pytest.raises(ValidationError, match="env"):
        OrchestratorConfig.model_validate(
            {
                "renderer": {"name": "qwen3"},
                "eval": {"env": [{"env": {"taskset": {"id": "removed"}}}]},
            }
        )


def test_trainer_enable_token_export_cli_flag():
    assert not cli(TrainerConfig, args=[]).enable_token_export
    assert cli(TrainerConfig, args=["--enable-token-export"]).enable_token_export


def test_single_node_auto_inference_ports_follow_server_port():
    config = RLConfig.model_validate(
        {
            "trainer": {},
            "orchestrator": {},
            "inference": {"server": {"port": 8001}, "vllm": {"tensor_parallel_size": 1}},
            "deployment": {
                "type": "single_node",
                "gpus_per_node": 4,
                "num_train_gpus": 2,
                "num_infer_gpus": 2,
            },
        }
    )

    assert config.inference is not None
    assert config.inference.vllm.data_parallel_size == 2
    assert config.inference.backend_port == 8101
    assert config.orchestrator.model.client.admin_base_url == ["http://localhost:8101/v1"]


def test_multi_node_auto_inference_parallelism():
    config = RLConfig.model_validate(
        {
            "trainer": {},
            "orchestrator": {},
            "inference": {"vllm": {"tensor_parallel_size": 4}},
            "deployment": {
                "type": "multi_node",
                "gpus_per_node": 8,
                "num_train_nodes": 1,
                "num_infer_nodes": 2,
            },
            "slurm": {},
        }
    )

    assert config.inference is not None
    assert config.inference.vllm.data_parallel_size_local == 2
    assert config.inference.vllm.data_parallel_size == 2


def test_orchestrator_vlm_requires_renderer():
    with pytest.raises(ValidationError, match="renderer"):
        OrchestratorConfig.model_validate(
            {
                "model": {
                    "name": "Qwen/Qwen3-VL-4B-Instruct",
                    "vlm": {
                        "vision_encoder_attr": "model.visual",
                        "language_model_attr": "model.language_model",
                    },
                },
                "renderer": None,
            }
        )

    config = OrchestratorConfig.model_validate(
        {
            "model": {
                "name": "Qwen/Qwen3-VL-4B-Instruct",
                "vlm": {
                    "vision_encoder_attr": "model.visual",
                    "language_model_attr": "model.language_model",
                },
            },
        }
    )

    assert config.renderer is not None


def test_trainer_rejects_vlm_cp_with_ring():
    config = {
        "model": {
            "cp": 2,
            "impl": "custom",
            "optimization_dtype": "bfloat16",
            "reduce_dtype": "bfloat16",
            "vlm": {
                "vision_encoder_attr": "model.visual",
                "language_model_attr": "model.language_model",
            },
        },
    }

    with pytest.raises(ValidationError, match="cp_style='ulysses'"):
        TrainerConfig.model_validate(config)


def test_selective_activation_checkpointing_requires_custom_impl():
    with pytest.raises(ValidationError, match="Selective activation checkpointing requires model.impl='custom'"):
        TrainerModelConfig.model_validate({"impl": "hf", "ac": {"mode": "selective"}})


def test_shared_model_name_propagates_to_subconfigs():
    model_name = "PrimeIntellect/test-model"
    config = RLConfig.model_validate(
        {
            "model": {"name": model_name},
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
            "inference": {},
        }
    )
    assert config.trainer.model.name == model_name
    assert config.orchestrator.model.name == model_name
    assert config.inference is not None and config.inference.vllm.model == model_name
    assert config.trainer.tokenizer.name == model_name
    assert config.orchestrator.tokenizer.name == model_name


def test_shared_tokenizer_propagates_when_subconfigs_unset():
    config = RLConfig.model_validate(
        {
            "model": {"name": "my-model"},
            "tokenizer": {"name": "my-tokenizer"},
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
        }
    )
    assert config.trainer.tokenizer.name == "my-tokenizer"
    assert config.orchestrator.tokenizer.name == "my-tokenizer"


def test_shared_and_sub_tokenizer_name_conflict_raises():
    """Setting tokenizer.name in both [tokenizer] and [trainer.tokenizer]
    is a config conflict — the sub-config would silently win, and any later
    CLI override of [tokenizer].name would silently no-op for the trainer."""
    with pytest.raises(ValidationError, match=r"tokenizer.name.*trainer.tokenizer.name"):
        RLConfig.model_validate(
            {
                "model": {"name": "my-model"},
                "tokenizer": {"name": "shared-tok"},
                "trainer": {"tokenizer": {"name": "trainer-tok"}},
                "orchestrator": {"renderer": {"name": "default"}},
            }
        )


def test_tokenizer_name_falls_back_to_model_name_when_unset():
    config = RLConfig.model_validate(
        {
            "model": {"name": "my-model"},
            "tokenizer": {"trust_remote_code": True},
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
        }
    )
    assert config.trainer.tokenizer.name == "my-model"
    assert config.orchestrator.tokenizer.name == "my-model"
    assert config.trainer.tokenizer.trust_remote_code is True
    assert config.orchestrator.tokenizer.trust_remote_code is True


def test_explicit_subconfig_tokenizer_name_survives_shared_model_propagation():
    """Regression: shared ``[model] name = "M"`` must propagate model names but
    must NOT clobber an explicit ``[orchestrator.tokenizer] name = "T"``.

    This is the case that the old RL-level ``auto_setup_tokenizer`` fix-up got
    wrong: it unconditionally re-derived ``orchestrator.tokenizer.name`` from
    ``orchestrator.model.name`` after propagation, silently overriding
    the user's explicit value. The ``mode="before"`` ``auto_setup_shared_configs``
    propagator fixes this because it propagates the model name into the raw
    dict before sub-configs are built, so ``OrchestratorConfig``'s own
    ``auto_setup_tokenizer`` (mode=after) sees the resolved name *and* the
    explicit user-set tokenizer name, and the ``fill``-if-absent semantic
    leaves the explicit value alone.
    """
    config = RLConfig.model_validate(
        {
            "model": {"name": "M"},
            "trainer": {},
            "orchestrator": {
                "renderer": {"name": "default"},
                "tokenizer": {"name": "explicit-orch-tok"},
            },
        }
    )
    # Shared model.name reached every sub-config that didn't override it.
    assert config.trainer.model.name == "M"
    assert config.orchestrator.model.name == "M"
    # Trainer didn't specify a tokenizer, so it falls back to the propagated model name.
    assert config.trainer.tokenizer.name == "M"
    # Orchestrator's explicit tokenizer name survived.
    assert config.orchestrator.tokenizer.name == "explicit-orch-tok"


def test_tokenizer_chat_template_mismatch_raises():
    with pytest.raises(ValidationError, match="chat_template"):
        RLConfig.model_validate(
            {
                "trainer": {"tokenizer": {"chat_template": "A"}},
                "orchestrator": {"renderer": {"name": "default"}, "tokenizer": {"chat_template": "B"}},
            }
        )


def test_shared_seq_len_propagates_to_subconfigs():
    config = RLConfig.model_validate(
        {
            "seq_len": 4096,
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
        }
    )
    assert config.trainer.model.seq_len == 4096
    assert config.orchestrator.seq_len == 4096


def test_shared_and_sub_seq_len_conflict_raises():
    """Setting seq_len at the shared level and on a sub-config is a conflict —
    forces the user to pick one place to express the value rather than
    relying on the silent 'sub wins' rule."""
    with pytest.raises(ValidationError, match=r"seq_len.*trainer.model.seq_len"):
        RLConfig.model_validate(
            {
                "seq_len": 4096,
                "trainer": {"model": {"seq_len": 8192}},
                "orchestrator": {"renderer": {"name": "default"}},
            }
        )


def test_shared_and_sub_model_name_conflict_raises():
    """Setting model.name at the shared level and on a sub-config is a conflict."""
    with pytest.raises(ValidationError, match=r"model.name.*trainer.model.name"):
        RLConfig.model_validate(
            {
                "model": {"name": "X"},
                "trainer": {"model": {"name": "Y"}},
                "orchestrator": {"renderer": {"name": "default"}},
            }
        )


def test_shared_and_sub_max_steps_conflict_raises():
    """Top-level scalar shared fields also participate in the mutex check."""
    with pytest.raises(ValidationError, match=r"max_steps.*orchestrator.max_steps"):
        RLConfig.model_validate(
            {
                "max_steps": 100,
                "trainer": {},
                "orchestrator": {"renderer": {"name": "default"}, "max_steps": 200},
            }
        )


def test_trainer_chat_template_cascades_to_inference():
    """``[trainer.tokenizer] chat_template`` set directly (no shared
    ``[tokenizer] chat_template``) must still reach
    ``inference.vllm.chat_template`` so vLLM's ``--chat-template`` is wired
    up. Regression: the original ``auto_setup_tokenizer`` cascaded this; the
    refactored propagator must keep doing it."""
    config = RLConfig.model_validate(
        {
            "model": {"name": "Qwen/Qwen3-0.6B"},
            "trainer": {"tokenizer": {"chat_template": "TPL"}},
            "orchestrator": {"renderer": {"name": "default"}, "tokenizer": {"chat_template": "TPL"}},
            "inference": {},
        }
    )
    assert config.trainer.tokenizer.chat_template == "TPL"
    assert config.orchestrator.tokenizer.chat_template == "TPL"
    assert config.inference is not None
    assert config.inference.vllm.chat_template == "TPL"


def test_shared_wandb_fields_propagate_to_subconfigs():
    """Every ``SharedWandbConfig`` leaf (project, entity, name, group, tags,
    offline) propagates to both trainer.monitors.wandb and
    orchestrator.monitors.wandb. Regression for a miss in the inline propagator."""
    config = RLConfig.model_validate(
        {
            "model": {"name": "Qwen/Qwen3-0.6B"},
            "monitors": {
                "wandb": {
                    "project": "shared-proj",
                    "entity": "shared-entity",
                    "name": "shared-name",
                    "group": "shared-group",
                    "tags": ["a", "b"],
                    "offline": False,
                }
            },
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
        }
    )
    for component in (config.trainer.monitors.wandb, config.orchestrator.monitors.wandb):
        assert component is not None
        assert component.project == "shared-proj"
        assert component.entity == "shared-entity"
        assert component.name == "shared-name"
        assert component.group == "shared-group"
        assert component.tags == ["a", "b"]
        assert component.offline is False


def test_shared_monitor_disable_and_prime_propagate():
    """CLI ``--no-monitors.wandb`` / ``--no-monitors.file`` (which land as the string
    "None") propagate the disable to both sub-configs, whose monitors default to
    enabled; a shared ``[monitors.prime]`` reaches the orchestrator only."""
    config = RLConfig.model_validate(
        {
            "model": {"name": "Qwen/Qwen3-0.6B"},
            "monitors": {"wandb": "None", "file": "None", "prime": {"name": "shared-prime"}},
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
        }
    )
    assert config.trainer.monitors.wandb is None and config.trainer.monitors.file is None
    assert config.orchestrator.monitors.wandb is None and config.orchestrator.monitors.file is None
    assert config.orchestrator.monitors.prime is not None
    assert config.orchestrator.monitors.prime.name == "shared-prime"


def test_empty_shared_ckpt_block_does_not_conflict_with_subconfig_ckpt():
    """An empty shared [ckpt] block is a presence-only signal, not a field
    setting — it should not conflict with a non-empty [trainer.ckpt]."""
    config = RLConfig.model_validate(
        {
            "ckpt": {},  # empty block, no field set
            "trainer": {"ckpt": {"interval": 50}},
            "orchestrator": {"renderer": {"name": "default"}, "ckpt": {"interval": 50}},
        }
    )
    assert config.trainer.ckpt is not None
    assert config.trainer.ckpt.interval == 50


def test_shared_and_subconfig_disjoint_fields_coexist():
    """Per-field mutex only forbids conflicts on the SAME field — disjoint
    fields in [model] vs [trainer.model] are fine."""
    config = RLConfig.model_validate(
        {
            "model": {"name": "Qwen/Qwen3-0.6B"},
            "trainer": {"model": {"impl": "custom"}},
            "orchestrator": {"renderer": {"name": "default"}},
        }
    )
    assert config.trainer.model.name == "Qwen/Qwen3-0.6B"
    assert config.trainer.model.impl == "custom"


def test_run_dir_propagates_through_cli(tmp_path):
    """Sub-configs receive the run directory (output_dir / run.name) resolved from the CLI."""
    toml_path = tmp_path / "cfg.toml"
    write_toml(
        toml_path,
        {
            "max_steps": 1,
            "seq_len": 128,
            "model": {"name": "Qwen/Qwen3-0.6B"},
            "monitors": {"wandb": {}},
            "trainer": {},
            "orchestrator": {"batch_size": 16, "group_size": 1},
            "inference": {},
        },
    )
    shared_out = tmp_path / "shared"
    config = cli(RLConfig, args=["@", str(toml_path), "--output-dir", str(shared_out), "--run.name", "my-exp"])
    assert config.run_dir == shared_out / "my-exp"
    assert config.trainer.output_dir == shared_out / "my-exp"
    assert config.orchestrator.output_dir == shared_out / "my-exp"
    # Unset monitor names inherit run.name
    assert config.monitors.wandb is not None and config.monitors.wandb.name == "my-exp"
    assert config.trainer.monitors.wandb is not None and config.trainer.monitors.wandb.name == "my-exp"
    assert config.orchestrator.monitors.wandb is not None and config.orchestrator.monitors.wandb.name == "my-exp"


def test_orchestrator_renderer_auto_rejects_unmapped_model():
    """Default ``renderer`` (AutoRendererConfig) must reject models not in MODEL_RENDERER_MAP."""
    with pytest.raises(ValidationError, match="silently fall back to DefaultRenderer"):
        OrchestratorConfig.model_validate({"model": {"name": "not-a-real-org/not-a-real-model"}})


def test_orchestrator_renderer_auto_accepts_mapped_model():
    """The default Qwen model is in MODEL_RENDERER_MAP and should validate cleanly."""
    config = OrchestratorConfig.model_validate({"model": {"name": "Qwen/Qwen3-0.6B"}})
    assert config.renderer is not None
    assert config.renderer.name == "auto"


def test_sft_renderer_auto_accepts_prime_qwen_model():
    config = SFTConfig.model_validate({"model": {"name": "PrimeIntellect/Qwen3-0.6B"}})
    assert config.renderer.name == "auto"


def test_sft_rejects_default_renderer_for_real_data():
    with pytest.raises(ValidationError, match="requires a typed renderer"):
        SFTConfig.model_validate({"renderer": {"name": "default"}})


def test_sft_allows_unused_default_renderer_for_fake_data():
    config = SFTConfig.model_validate(
        {
            "data": {"type": "fake"},
            "renderer": {"name": "default"},
        }
    )
    assert config.renderer.name == "default"


def test_orchestrator_explicit_renderer_skips_unmapped_check():
    """Explicit renderer.name bypasses the auto-resolution check — user opted in."""
    config = OrchestratorConfig.model_validate(
        {
            "model": {"name": "not-a-real-org/not-a-real-model"},
            "renderer": {"name": "qwen3"},
        }
    )
    assert config.renderer is not None
    assert config.renderer.name == "qwen3"


def test_orchestrator_renderer_none_rejected():
    """A renderer is required (training is renderer-only): the non-optional type rejects None."""
    with pytest.raises(ValidationError, match="renderer"):
        OrchestratorConfig.model_validate(
            {
                "model": {"name": "not-a-real-org/not-a-real-model"},
                "renderer": None,
            }
        )


def test_orchestrator_explicit_default_renderer_with_unmapped_model():
    """renderer.name='default' is an explicit opt-in to DefaultRenderer and must pass."""
    config = OrchestratorConfig.model_validate(
        {
            "model": {"name": "not-a-real-org/not-a-real-model"},
            "renderer": {"name": "default", "tool_parser": "qwen3"},
        }
    )
    assert config.renderer is not None
    assert config.renderer.name == "default"
    assert config.renderer.tool_parser == "qwen3"


def test_shared_model_name_resolves_inference_parsers():
    """Shared [model] name must reach inference.vllm BEFORE VllmConfig's after-validator
    runs auto_resolve_parsers — i.e. the parsers resolve from the propagated name, not
    from an empty default.
    """
    config = RLConfig.model_validate(
        {
            "model": {"name": "Qwen/Qwen3-Coder-30B-A3B-Instruct"},
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
            "inference": {},
        }
    )
    assert config.inference is not None
    assert config.inference.vllm.model == "Qwen/Qwen3-Coder-30B-A3B-Instruct"
    assert config.inference.vllm.tool_call_parser == "qwen3_coder"


def test_explicit_inference_parser_wins_over_auto():
    """Explicit inference.vllm.tool_call_parser is preserved even when the shared model
    name would otherwise auto-resolve to something else."""
    config = RLConfig.model_validate(
        {
            "model": {"name": "Qwen/Qwen3-Coder-30B-A3B-Instruct"},
            "trainer": {},
            "orchestrator": {"renderer": {"name": "default"}},
            "inference": {"vllm": {"tool_call_parser": "hermes"}},
        }
    )
    assert config.inference is not None
    assert config.inference.vllm.tool_call_parser == "hermes"
