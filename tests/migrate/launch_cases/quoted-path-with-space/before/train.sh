uv run sft @ "my configs/base.toml" @ 'my configs/over.toml'
