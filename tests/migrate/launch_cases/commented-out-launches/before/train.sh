# uv run sft @ over.toml
uv run sft @ base.toml @ over.toml  # uv run sft @ over.toml
