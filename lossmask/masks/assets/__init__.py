"""Built-in assets: embedded tokenizers, their chat templates, synthetic conversations."""
