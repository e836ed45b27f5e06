uv run sft @ configs/base*.toml @ configs/over.toml
