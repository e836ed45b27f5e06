import subprocess
import sys

subprocess.run(["uv", "run", "sft", "@", sys.argv[1], "@", "configs/over.toml"])
