import subprocess

CONFIGS = "configs"

subprocess.run(
    ["uv", "run", "sft", "@", f"{CONFIGS}/base.toml", "@", "configs/over.toml"],
    check=True,
)
