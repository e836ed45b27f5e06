# subprocess.run(["uv", "run", "sft", "@", "over.toml"])
