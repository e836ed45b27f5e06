import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from subprocess import Popen
from threading import Event, Thread
from urllib.parse import urlparse

from prime_rl.configs.algorithm import FrozenModelConfig
from prime_rl.configs.inference import VllmRouterConfig
from prime_rl.configs.orchestrator import EnvConfig
from prime_rl.configs.rl import RLConfig
from prime_rl.entrypoints.inference import vllm_overrides_fragment
from prime_rl.utils.config import cli, dump_resolved_config
from prime_rl.utils.logger import get_logger, setup_logger
from prime_rl.utils.pathing import (
    clean_future_steps,
    create_attempt_log_dir,
    format_log_message,
    get_ckpt_dir,
    get_config_dir,
    latest_log_dir,
    resolve_latest_ckpt_step,
    validate_run_dir,
)
from prime_rl.utils.process import (
    DEFAULT_COMMON_ENV_VARS,
    DEFAULT_INFERENCE_ENV_VARS,
    DEFAULT_TRAINER_ENV_VARS,
    cleanup_processes,
    cleanup_threads,
    get_physical_gpu_ids,
    monitor_process,
    set_proc_title,
)

RL_CONFIG = "rl.json"
RL_SBATCH = "rl.sbatch"

TRAINER_CONFIG = "trainer.json"
ORCHESTRATOR_CONFIG = "orchestrator.json"
INFERENCE_CONFIG = "inference.json"

ENVS_DIR = "envs"


def env_servers(config: RLConfig) -> list[tuple[str, EnvConfig, str]]:
    """``(split, source, address)`` for every launcher-managed train/eval source. The
    launcher runs one env server per source at its deterministic address; the
    orchestrator connects there. A source with ``serve.address`` set is externally
    managed — its server runs elsewhere and only the orchestrator connects to it — so
    the launcher neither writes its TOML nor spawns a server for it."""
    addresses = config.orchestrator.env_addresses
    return [
        (split, source, addresses[(split, source.resolved_name)])
        for split, source in config.orchestrator.env_sources
        if source.serve.address is None
    ]


def env_server_names(config: RLConfig, split: str) -> list[str]:
    """Names of the launcher-managed env servers for one split."""
    return [source.resolved_name for source_split, source, _ in env_servers(config) if source_split == split]


def write_config(config: RLConfig, output_dir: Path, exclude: set[str] | None = None) -> None:
    """Write resolved config to disk, excluding launcher-only fields."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / RL_CONFIG, "w") as f:
        json.dump(dump_resolved_config(config, exclude=exclude), f, indent=2)


def write_subconfigs(config: RLConfig, output_dir: Path) -> None:
    """Write resolved subconfigs to disk as TOML files."""
    output_dir.mkdir(parents=True, exist_ok=True)

    with open(output_dir / TRAINER_CONFIG, "w") as f:
        json.dump(dump_resolved_config(config.trainer), f, indent=2)

    with open(output_dir / ORCHESTRATOR_CONFIG, "w") as f:
        json.dump(dump_resolved_config(config.orchestrator), f, indent=2)

    if config.inference is not None:
        # Exclude launcher-only fields that are not needed by the vLLM server
        exclude_inference = {"deployment", "slurm", "output_dir", "dry_run"}
        inference_dict = dump_resolved_config(config.inference, exclude=exclude_inference)
        if config.deployment.type == "multi_node":
            # Per-rank processes run bare engines; the sbatch starts the single global router.
            inference_dict["router"] = None
        with open(output_dir / INFERENCE_CONFIG, "w") as f:
            json.dump(inference_dict, f, indent=2)

    # One EnvServerConfig TOML per launcher-managed source: `env-server @ <path>` binds
    # at the source's deterministic address, where the orchestrator connects. The source's
    # env/serve blocks carry over; its other knobs (sampling, algo, name, ...) are
    # orchestrator-side.
    for split, source, address in env_servers(config):
        env_dir = output_dir / ENVS_DIR / split
        env_dir.mkdir(parents=True, exist_ok=True)
        source_dict = dump_resolved_config(source)
        env_server_dict = {
            "env": source_dict["env"],
            "serve": {**source_dict.get("serve", {}), "address": address},
            "log": {"level": config.orchestrator.log.vf_level, "json_logging": config.orchestrator.log.json_logging},
        }
        with open(env_dir / f"{source.resolved_name}.json", "w") as f:
            json.dump(env_server_dict, f, indent=2)


def rl_local(config: RLConfig):
    assert config.deployment.type == "single_node"

    logger = setup_logger(
        config.log.level or os.environ.get("PRIME_LOG_LEVEL", "info"),
        json_logging=config.log.json_logging,
    )

    config_dir = get_config_dir(config.run_dir)
    write_subconfigs(config, config_dir)
    logger.info(f"Wrote subconfigs to {config_dir}")

    if config.dry_run:
        logger.success("Dry run complete. To start an RL run locally, remove --dry-run from your command.")
        return

    # Derive launcher-local GPU IDs from deployment config
    gpu_offset = 0
    num_infer_gpus = config.deployment.num_infer_gpus if config.inference is not None else 0
    infer_local_gpu_ids = list(range(gpu_offset, gpu_offset + num_infer_gpus))
    gpu_offset += num_infer_gpus
    trainer_local_gpu_ids = list(range(gpu_offset, gpu_offset + config.deployment.num_train_gpus))

    total_requested_gpus = num_infer_gpus + config.deployment.num_train_gpus
    physical_gpu_ids = get_physical_gpu_ids()
    if total_requested_gpus > len(physical_gpu_ids):
        raise ValueError(
            f"Requested {total_requested_gpus} GPUs via deployment settings, but only "
            f"{len(physical_gpu_ids)} physical GPU(s) are available: {physical_gpu_ids}"
        )
    physical_gpu_mapping = {local_id: physical_gpu_ids[local_id] for local_id in range(total_requested_gpus)}
    logger.info(f"Using local->physical GPU mapping: {physical_gpu_mapping}")

    infer_gpu_ids = [physical_gpu_mapping[local_gpu_id] for local_gpu_id in infer_local_gpu_ids]
    trainer_gpu_ids = [physical_gpu_mapping[local_gpu_id] for local_gpu_id in trainer_local_gpu_ids]

    start_command = sys.argv
    logger.info("Starting RL run")
    logger.debug(f"RL start command: {' '.join(start_command)}")

    # Build shared W&B env vars for subprocesses. Shared mode is always on for
    # the rl entrypoint — trainer and orchestrator log to a single W&B run whose
    # id ($WANDB_RUN_ID) equals $PRL_RUN_ID. The monitor short-circuits when
    # WANDB_MODE=disabled/offline is also set.
    wandb_shared_env: dict[str, str] = {
        "WANDB_SHARED_MODE": "1",
        "WANDB_RUN_ID": os.environ["PRL_RUN_ID"],
    }

    # Validate client port matches inference server port
    if config.inference is not None:
        parsed = urlparse(config.orchestrator.model.client.base_url)
        client_port = parsed.port
        expected_port = config.inference.server.port
        if client_port != expected_port:
            raise ValueError(
                f"orchestrator.model.client.base_url port ({client_port}) does not match "
                f"inference.server.port ({expected_port}). "
                f"Update the base_url to use port {expected_port} to match the inference server."
            )

    # Per-attempt log dir: a resume never overwrites an earlier attempt's logs
    log_dir = create_attempt_log_dir(config.run_dir)

    # Start processes
    processes: list[Popen] = []
    monitor_threads: list[Thread] = []
    error_queue: list[Exception] = []
    stop_events: dict[str, Event] = {}

    def sigterm_handler(signum, frame):
        logger.warning("Received SIGTERM, terminating all processes...")
        cleanup_threads(monitor_threads)
        cleanup_processes(processes)
        sys.exit(1)

    signal.signal(signal.SIGTERM, sigterm_handler)

    try:
        # Optionally, start inference process
        if config.inference:
            inference_cmd = ["inference", "@", (config_dir / INFERENCE_CONFIG).as_posix()]
            logger.info(f"Starting inference on GPU(s) {' '.join(map(str, infer_gpu_ids))}")
            logger.debug(f"Inference start command: {' '.join(inference_cmd)}")
            # If we don't log stdout, the server hangs
            with open(log_dir / "inference.log", "w") as log_file:
                inference_process = Popen(
                    inference_cmd,
                    env={
                        **os.environ,
                        **DEFAULT_COMMON_ENV_VARS,
                        **DEFAULT_INFERENCE_ENV_VARS,
                        **config.env_vars,
                        **config.inference.env_vars,
                        "CUDA_VISIBLE_DEVICES": ",".join(map(str, infer_gpu_ids)),
                    },
                    stdout=log_file,
                    stderr=log_file,
                )
            processes.append(inference_process)

            # Start monitoring thread
            stop_event = Event()
            stop_events["inference"] = stop_event
            monitor_thread = Thread(
                target=monitor_process,
                args=(inference_process, stop_event, error_queue, "inference"),
                daemon=True,
            )
            monitor_thread.start()
            monitor_threads.append(monitor_thread)
        else:
            logger.warning(
                "No [inference] block configured - the policy inference server will not be started here. "
                "Every algorithm requires a policy inference pool for evals + weight sync; "
                "make sure one is running at orchestrator.model.client.base_url "
                f"({config.orchestrator.model.client.base_url}), otherwise the orchestrator "
                "will hang waiting for it."
            )

        frozen_endpoints: list[str] = []
        for env in config.orchestrator.train.source:
            algo = env.algo
            assert algo is not None, "TrainSourceConfig.algo must be resolved before launch (inherit_env_algorithms)"
            for ref in (algo.sampling.source, getattr(algo, "teacher", None)):
                if isinstance(ref, FrozenModelConfig):
                    frozen_endpoints.append(f"{ref.name} ({ref.base_url})")
        if frozen_endpoints:
            endpoints = ", ".join(dict.fromkeys(frozen_endpoints))
            logger.info(
                "Frozen model references are configured - the rl entrypoint does not start them. "
                f"Make sure these endpoints are serving before the orchestrator starts: {endpoints}; "
                "otherwise rollouts will hang."
            )

        # Start one env server per source. The orchestrator connects to each source's
        # deterministic address, polling until the server is up, so the servers and the
        # orchestrator start in parallel.
        for split, source, address in env_servers(config):
            name = source.resolved_name
            env_server_cmd = ["env-server", "@", (config_dir / ENVS_DIR / split / f"{name}.json").as_posix()]
            logger.info(f"Starting {split} env server {name} at {address}")
            logger.debug(f"Env server start command: {' '.join(env_server_cmd)}")
            env_server_log = log_dir / ENVS_DIR / split / f"{name}.log"
            env_server_log.parent.mkdir(parents=True, exist_ok=True)
            with open(env_server_log, "w") as log_file:
                env_server_process = Popen(
                    env_server_cmd,
                    env={
                        **os.environ,
                        **DEFAULT_COMMON_ENV_VARS,
                        **config.env_vars,
                        **config.orchestrator.env_vars,
                    },
                    stdout=log_file,
                    stderr=log_file,
                )
            processes.append(env_server_process)

            # Start monitoring thread
            stop_event = Event()
            stop_events[f"env/{split}/{name}"] = stop_event
            monitor_thread = Thread(
                target=monitor_process,
                args=(env_server_process, stop_event, error_queue, f"{split} env server {name}"),
                daemon=True,
            )
            monitor_thread.start()
            monitor_threads.append(monitor_thread)

        orchestrator_cmd = ["orchestrator", "@", (config_dir / ORCHESTRATOR_CONFIG).as_posix()]
        logger.info("Starting orchestrator process")
        logger.debug(f"Orchestrator start command: {' '.join(orchestrator_cmd)}")
        with open(log_dir / "orchestrator.log", "w") as log_file:
            orchestrator_process = Popen(
                orchestrator_cmd,
                stdout=log_file,
                stderr=log_file,
                env={
                    **os.environ,
                    **DEFAULT_COMMON_ENV_VARS,
                    "LOGURU_FORCE_COLORS": "1",
                    "WANDB_PROGRAM": "uv run rl",
                    "WANDB_ARGS": json.dumps(start_command),
                    **config.env_vars,
                    **config.orchestrator.env_vars,
                    **wandb_shared_env,
                    "WANDB_SHARED_LABEL": "orchestrator",
                },
            )
        processes.append(orchestrator_process)

        # Start monitoring thread
        stop_event = Event()
        stop_events["orchestrator"] = stop_event
        monitor_thread = Thread(
            target=monitor_process,
            args=(orchestrator_process, stop_event, error_queue, "orchestrator"),
            daemon=True,
        )
        monitor_thread.start()
        monitor_threads.append(monitor_thread)

        # Start training process
        from prime_rl.utils.utils import get_free_port

        trainer_cmd = [
            "torchrun",
            "--role=trainer",
            f"--rdzv-endpoint=localhost:{get_free_port()}",
            f"--rdzv-id={uuid.uuid4().hex}",
            # Pipe all logs to file, and only master rank logs to stdout
            f"--log-dir={log_dir / 'trainer' / 'torchrun'}",
            f"--local-ranks-filter={','.join(map(str, config.trainer.log.ranks_filter))}",
            "--redirect=3",
            "--tee=3",
            f"--nproc-per-node={len(trainer_gpu_ids)}",
            "-m",
            "prime_rl.trainer.rl.train",
            "@",
            (config_dir / TRAINER_CONFIG).as_posix(),
        ]
        logger.info(f"Starting trainer on GPU(s) {' '.join(map(str, trainer_gpu_ids))}")
        logger.debug(f"Training start command: {' '.join(trainer_cmd)}")
        with open(log_dir / "trainer.log", "w") as log_file:
            trainer_process = Popen(
                trainer_cmd,
                env={
                    **os.environ,
                    **DEFAULT_COMMON_ENV_VARS,
                    **DEFAULT_TRAINER_ENV_VARS,
                    "LOGURU_FORCE_COLORS": "1",
                    "WANDB_PROGRAM": "uv run rl",
                    "WANDB_ARGS": json.dumps(start_command),
                    **config.env_vars,
                    **config.trainer.env_vars,
                    **wandb_shared_env,
                    "WANDB_SHARED_LABEL": "trainer",
                    "CUDA_VISIBLE_DEVICES": ",".join(map(str, trainer_gpu_ids)),
                },
                stdout=log_file,
                stderr=log_file,
            )
        processes.append(trainer_process)

        # Start monitoring thread
        stop_event = Event()
        stop_events["trainer"] = stop_event
        monitor_thread = Thread(
            target=monitor_process, args=(trainer_process, stop_event, error_queue, "trainer"), daemon=True
        )
        monitor_thread.start()
        monitor_threads.append(monitor_thread)

        # Monitor all processes for failures
        logger.success("Startup complete. Showing orchestrator logs...")

        tail_process = Popen(
            f"tail -F '{log_dir / 'orchestrator.log'}'",
            shell=True,
        )
        processes.append(tail_process)

        # Check for errors from monitor threads
        while not (stop_events["orchestrator"].is_set() and stop_events["trainer"].is_set()):
            if error_queue:
                error = error_queue[0]
                logger.error(f"Error: {error}")
                logger.error("Terminating all processes...")
                cleanup_threads(monitor_threads)
                cleanup_processes(processes)
                sys.exit(1)

            # Small delay to avoid busy waiting
            time.sleep(1)

        # Check if any critical process failed
        if orchestrator_process.returncode != 0:
            logger.error(f"Orchestrator failed with exit code {orchestrator_process.returncode}")
            cleanup_threads(monitor_threads)
            cleanup_processes(processes)
            sys.exit(1)

        if trainer_process.returncode != 0:
            logger.error(f"Trainer failed with exit code {trainer_process.returncode}")
            cleanup_threads(monitor_threads)
            cleanup_processes(processes)
            sys.exit(1)

        logger.success("Training finished!")

        # Cleanup threads and processes
        cleanup_threads(monitor_threads)
        cleanup_processes(processes)

    except KeyboardInterrupt:
        logger.warning("Received interrupt signal, terminating all processes...")
        cleanup_threads(monitor_threads)
        cleanup_processes(processes)
        sys.exit(1)
    except Exception as e:
        logger.error(f"Error occurred: {e}")
        cleanup_threads(monitor_threads)
        cleanup_processes(processes)
        raise


def write_slurm_script(config: RLConfig, config_dir: Path, script_path: Path) -> None:
    """Write the SLURM script to disk."""
    from jinja2 import Environment, FileSystemLoader

    assert config.slurm is not None
    assert config.slurm.template_path is not None

    env = Environment(loader=FileSystemLoader(config.slurm.template_path.parent), keep_trailing_newline=True)
    template = env.get_template(config.slurm.template_path.name)

    offload = config.inference.kv_cache_offload if config.inference is not None else None
    is_mooncake = offload is not None and offload.type == "mooncake"
    mooncake_vars = dict(
        kv_offload=offload is not None,
        kv_offload_mooncake=is_mooncake,
        kv_offload_cpu_bytes=int(offload.cpu.num_bytes) if is_mooncake else 0,
        kv_offload_disk_path=str(offload.disk.path) if (is_mooncake and offload.disk is not None) else "",
        kv_offload_device_name=offload.device_name if is_mooncake else "",
    )

    # Per-component env vars: launcher defaults (shared + multi-node-specific) with the
    # user's config merged on top. Runtime wiring stays in the template.
    trainer_env_vars = {
        **DEFAULT_COMMON_ENV_VARS,
        **DEFAULT_TRAINER_ENV_VARS,
        **config.env_vars,
        **config.trainer.env_vars,
    }
    orchestrator_env_vars = {**DEFAULT_COMMON_ENV_VARS, **config.env_vars, **config.orchestrator.env_vars}
    inference_env_vars = (
        {**DEFAULT_COMMON_ENV_VARS, **DEFAULT_INFERENCE_ENV_VARS, **config.env_vars, **config.inference.env_vars}
        if config.inference
        else {}
    )

    # Env servers launch next to the orchestrator, one per launcher-managed train/eval source.
    train_env_names = env_server_names(config, "train")
    eval_env_names = env_server_names(config, "eval")

    if config.deployment.type == "single_node":
        script = template.render(
            **config.slurm.template_vars,
            config_path=config_dir / RL_CONFIG,
            output_dir=config.run_dir,
            gpus_per_node=config.deployment.gpus_per_node,
        )
    elif config.inference is not None and config.inference.deployment.type == "disaggregated":
        infer_deploy = config.inference.deployment

        script = template.render(
            **config.slurm.template_vars,
            is_disaggregated=True,
            run_name=config.run.name,
            config_dir=config_dir,
            output_dir=config.run_dir,
            num_train_nodes=config.deployment.num_train_nodes,
            num_infer_nodes=infer_deploy.num_nodes * config.deployment.num_infer_replicas,
            nodes_per_infer_replica=infer_deploy.num_nodes,
            num_infer_replicas=config.deployment.num_infer_replicas,
            num_prefill_nodes=infer_deploy.num_prefill_nodes,
            num_decode_nodes=infer_deploy.num_decode_nodes,
            prefill_nodes_per_replica=infer_deploy.prefill_nodes_per_replica,
            decode_nodes_per_replica=infer_deploy.decode_nodes_per_replica,
            num_prefill_replicas=infer_deploy.num_prefill_replicas,
            num_decode_replicas=infer_deploy.num_decode_replicas,
            gpus_per_node=config.deployment.gpus_per_node,
            router=config.inference.router,
            router_port=config.inference.server.port,
            prefill_port=infer_deploy.prefill_port,
            decode_port=infer_deploy.decode_port,
            inference_tp=config.inference.vllm.tensor_parallel_size,
            inference_data_parallel_rpc_port=config.inference.vllm.data_parallel_rpc_port,
            use_deep_gemm=config.inference.use_deep_gemm,
            prefill_env_vars=infer_deploy.prefill_env_vars,
            decode_env_vars=infer_deploy.decode_env_vars,
            trainer_env_vars=trainer_env_vars,
            orchestrator_env_vars=orchestrator_env_vars,
            inference_env_vars=inference_env_vars,
            prefill_vllm_extra_json=vllm_overrides_fragment(infer_deploy.prefill_vllm_overrides),
            decode_vllm_extra_json=vllm_overrides_fragment(infer_deploy.decode_vllm_overrides),
            dp_per_node=config.deployment.gpus_per_node // config.inference.vllm.tensor_parallel_size,
            **mooncake_vars,
            use_nccl_broadcast=config.weight_broadcast is not None and config.weight_broadcast.type == "nccl",
            use_zmq_transport=config.rollout_transport is not None and config.rollout_transport.type == "zmq",
            ranks_filter=",".join(map(str, config.trainer.log.ranks_filter)),
            orchestrator_on_inference=config.deployment.orchestrator_on_inference,
            train_env_names=train_env_names,
            eval_env_names=eval_env_names,
        )
    else:
        script = template.render(
            **config.slurm.template_vars,
            is_disaggregated=False,
            run_name=config.run.name,
            config_dir=config_dir,  # TODO: should prob have each subconfig path separately
            output_dir=config.run_dir,
            num_train_nodes=config.deployment.num_train_nodes,
            num_infer_nodes=config.deployment.total_infer_nodes,
            nodes_per_infer_replica=config.deployment.infer_nodes_per_replica,
            num_infer_replicas=config.deployment.num_infer_replicas,
            gpus_per_node=config.deployment.gpus_per_node,
            router=config.inference.router if config.inference else VllmRouterConfig(),
            router_port=config.inference.server.port if config.inference else 8000,
            infer_nodes_per_replica=config.deployment.infer_nodes_per_replica,
            backend_port=config.inference.backend_port if config.inference else 8100,
            inference_tp=config.inference.vllm.tensor_parallel_size if config.inference else 1,
            inference_enable_expert_parallel=config.inference.vllm.enable_expert_parallel
            if config.inference
            else False,
            inference_data_parallel_rpc_port=config.inference.vllm.data_parallel_rpc_port
            if config.inference
            else 29600,
            dp_per_node=(config.deployment.gpus_per_node // config.inference.vllm.tensor_parallel_size)
            if config.inference
            else 1,
            **mooncake_vars,
            use_nccl_broadcast=config.weight_broadcast is not None and config.weight_broadcast.type == "nccl",
            use_zmq_transport=config.rollout_transport is not None and config.rollout_transport.type == "zmq",
            ranks_filter=",".join(map(str, config.trainer.log.ranks_filter)),
            orchestrator_on_inference=config.deployment.orchestrator_on_inference,
            trainer_env_vars=trainer_env_vars,
            orchestrator_env_vars=orchestrator_env_vars,
            inference_env_vars=inference_env_vars,
            train_env_names=train_env_names,
            eval_env_names=eval_env_names,
        )

    script_path.parent.mkdir(parents=True, exist_ok=True)
    script_path.write_text(script)


def rl_slurm(config: RLConfig):
    assert config.slurm is not None

    logger = setup_logger(
        config.log.level or os.environ.get("PRIME_LOG_LEVEL", "info"), json_logging=config.log.json_logging
    )

    config_dir = get_config_dir(config.run_dir)
    log_dir = latest_log_dir(config.run_dir)

    if config.deployment.type == "single_node":
        write_config(config, config_dir, exclude={"slurm", "dry_run", "clean"})
        logger.info(f"Wrote config to {config_dir / RL_CONFIG}")

        train_env_names = env_server_names(config, "train")
        eval_env_names = env_server_names(config, "eval")

        log_message = format_log_message(
            log_dir=log_dir,
            trainer=True,
            orchestrator=True,
            inference=True,
            train_env_names=train_env_names,
            eval_env_names=eval_env_names,
        )
    else:
        write_subconfigs(config, config_dir)
        logger.info(f"Wrote subconfigs to {config_dir}")

        train_env_names = env_server_names(config, "train")
        eval_env_names = env_server_names(config, "eval")

        has_infer = config.deployment.infer_nodes_per_replica > 0
        log_message = format_log_message(
            log_dir=log_dir,
            trainer=True,
            orchestrator=has_infer,
            inference=has_infer,
            train_env_names=train_env_names,
            eval_env_names=eval_env_names,
            num_train_nodes=config.deployment.num_train_nodes,
            num_infer_nodes=config.deployment.total_infer_nodes if has_infer else 0,
        )

    script_path = config.run_dir / RL_SBATCH
    write_slurm_script(config, config_dir, script_path)
    logger.info(f"Wrote SLURM script to {script_path}")

    if config.dry_run:
        logger.success(f"Dry run complete. To submit manually:\n\n  sbatch {script_path}\n\n{log_message}")
        return

    logger.info(f"Submitting: sbatch {script_path}")
    result = subprocess.run(["sbatch", str(script_path)], capture_output=True, text=True)
    if result.returncode != 0:
        logger.error(f"sbatch failed: {result.stderr.strip()}")
        sys.exit(1)

    logger.success(f"{result.stdout.strip()}\n\n{log_message}")


def rl(config: RLConfig):
    # The run identity is runtime-only, never sub-config: $PRL_RUN_ID / $PRL_RUN_NAME are
    # the vehicle for runtime info between processes, and every spawned process inherits
    # them. Components launched standalone have no run identity. TODO: fetch the id from
    # the Prime SDK once runs are registered there.
    os.environ.setdefault("PRL_RUN_ID", uuid.uuid4().hex)
    assert config.run.name is not None  # resolved at construction
    os.environ["PRL_RUN_NAME"] = config.run.name

    resuming = config.resume is not None
    clean = config.clean and not os.environ.get("NEVER_CLEAN")
    ckpt_output_dir = config.ckpt.output_dir if config.ckpt else None
    validate_run_dir(
        config.run_dir, output_dir=config.output_dir, resuming=resuming, clean=clean, ckpt_output_dir=ckpt_output_dir
    )
    config.run_dir.mkdir(parents=True, exist_ok=True)
    if ckpt_output_dir is not None:
        ckpt_output_dir.mkdir(parents=True, exist_ok=True)

    # Clean stale rollouts and broadcasts. When resuming, anything past the resume
    # step is stale. When training from scratch, every existing step directory is
    # stale — without this, a fresh run in a dirty run dir would pick up rollouts
    # from a previous run and the orchestrator would see a negative async level.
    resume_step: int | None = None
    if resuming:
        if config.resume.dir is not None:
            resume_step = config.resume.dir_step
        else:
            resume_step = config.resume.step
            if resume_step is None:
                ckpt_base = ckpt_output_dir if ckpt_output_dir is not None else config.run_dir
                resume_step = resolve_latest_ckpt_step(get_ckpt_dir(ckpt_base))

    if resume_step is not None:
        get_logger().info(f"Resuming from step {resume_step}, cleaning future rollouts and broadcasts")
        clean_future_steps(config.run_dir, resume_step)
    else:
        get_logger().info("Training from scratch, cleaning any stale rollouts and broadcasts")
        clean_future_steps(config.run_dir, -1)

    if not config.dry_run:
        from prime_rl.trainer.model import pre_download_model

        pre_download_model(config.trainer.model.name, skip_weights=config.trainer.model.debug.random_init)

    if config.slurm is not None:
        rl_slurm(config)
    else:
        rl_local(config)


def main():
    set_proc_title("Launcher")
    rl(cli(RLConfig))


if __name__ == "__main__":
    main()
