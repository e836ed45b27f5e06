uv run sft @ $CFG_DIR/base.toml @ $CFG_DIR/over.toml
