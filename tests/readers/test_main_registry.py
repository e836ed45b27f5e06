"""The renderer names and registered models prime-rl main checks against are carried as data
(config commands may not import `renderers`); they must be what the installed `renderers` says."""

from __future__ import annotations

from lossmask.readers.generate_main_registry import TARGET, render_module
from lossmask.readers.prime_rl_main_registry import REGISTERED_MODELS, RENDERER_NAMES

REGENERATE = "python -m lossmask.readers.generate_main_registry"


def test_the_carried_registry_is_the_installed_renderers_one() -> None:
    assert TARGET.read_text(encoding="utf-8") == render_module(), f"stale: run `{REGENERATE}`"


def test_main_s_choices_are_there() -> None:
    assert {"auto", "default", "glm-4.5", "qwen3", "custom"} <= set(RENDERER_NAMES)
    assert REGISTERED_MODELS["PrimeIntellect/Qwen3-0.6B"] == "prime-qwen3"
    assert "zai-org/GLM-4.5-Air" in REGISTERED_MODELS
