uv run sft @ "$(git ls-files '*base.toml' | head -1)" @ configs/over.toml
