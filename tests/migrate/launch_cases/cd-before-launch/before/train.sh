cd sub && uv run sft @ base.toml @ ov.toml
