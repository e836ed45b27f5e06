"""What a reading refuses, and what it says about a config's meaning, over parsed TOML.

Shared by the full check (`lossmask.schema.validation`) and the fast path of `lossmask validate`
(`lossmask.schema.quick_check`), so the two can never word a statement differently. Plain Python:
no pydantic model, no `renderers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lossmask.errors import Problem
from lossmask.readers import prime_rl_main
from lossmask.readers.meanings import MaskMeaning, UnreadableMask, section_meaning
from lossmask.readers.registry import Reading
from lossmask.schema.sections import sft_sections


def reading_errors(data: Mapping[str, Any], reading: Reading) -> list[Problem]:
    """What the reading refuses in a (composed) config, beyond the schema's types."""
    if reading.is_main:
        found = prime_rl_main.loss_mask_refusals(data)
        refusal = prime_rl_main.renderer_refusal(data)
        return found + ([refusal] if refusal is not None else [])
    found = []
    if reading.version >= 3 and not isinstance(data.get("renderer"), Mapping):
        for path, section in sft_sections(data):
            if section.get("content_roles"):
                found.append(
                    Problem(
                        "content_roles needs a renderer: a chat template does not say which "
                        "tokens are a message's body",
                        (*path, "content_roles"),
                        suggestion='name one in [renderer] name (e.g. "glm-4.5", or "auto"), '
                        "or drop content_roles",
                    )
                )
    return found


def reading_warnings(data: Mapping[str, Any], reading: Reading) -> list[Problem]:
    """What is worth saying about the meaning of a config the reading accepts."""
    found = []
    for path, section in sft_sections(data):
        try:
            meaning = section_meaning(section, reading)
        except UnreadableMask:
            continue  # an error, reported by the schema or by `reading_errors`
        if meaning == MaskMeaning(()):
            where = "prime-rl main skips every sample" if reading.is_main else "nothing trains"
            found.append(
                Problem(
                    f"this loss_mask trains no token: {where}",
                    (*path, "loss_mask"),
                    severity="warning",
                )
            )
    return found


def no_data_statement(reading: Reading) -> Problem | None:
    """What to say about an SFT launch with no `[data]` table, under a reader whose default for it
    changed; None under prime-rl before #2988, whose default it is."""
    if reading.is_main:
        return Problem(prime_rl_main.NO_DATA_NOTE, ("data",), severity="note")
    if reading.version >= 2:
        return Problem(
            f'no [data] table in this stack: schema version {reading.version} trains "sampled" '
            "tokens of the default dataset, where version 1 trained assistant messages only",
            ("data",),
            suggestion="run `lossmask migrate` on the stack to keep the old meaning",
            severity="warning",
        )
    return None
