"""The mode table of docs/masks.md, cell by cell, on hand-built token descriptions (no tokenizer).

One conversation, `user`, an assistant tool call, its tool result, a final assistant answer, as
each path describes it. Positions are written out by hand; 11 is the stop the contract appends.
"""

from __future__ import annotations

from typing import Any

import pytest

from lossmask.masks import MaskError
from lossmask.masks.engine.contract import (
    MODES,
    TokenDescription,
    apply_contract,
    coerce_loss_mask,
)
from lossmask.schema.roles import LossMaskRolesConfig

ROLES = ["user", "assistant", "tool", "assistant"]
EOS, OBSERVATION = 99, 106
IDS = [100 + k for k in range(11)]  # 106 is the <|observation|> closer
#      0 [gMASK]  1 <|user|>  2 q  3 <|assistant|>  4 \n  5 call  6 <|observation|>  7 result
#      8 <|assistant|>  9 \n  10 answer
SAMPLED = [False, False, False, False, True, True, True, False, False, True, True]


def described(path: str) -> TokenDescription:
    """The template path attributes the closer to the tool message that writes it; a renderer
    attributes it to the assistant it closes. Both say which turn it belongs to."""
    closer_message = 2 if path == "template" else 1
    return TokenDescription(
        ids=list(IDS),
        message=[None, 0, 0, 1, 1, 1, closer_message, 2, 3, 3, 3],
        turn=[None, 0, 0, 1, 1, 1, 1, 2, 3, 3, 3],
        sampled=list(SAMPLED),
        content=[False] * 11,
        roles=list(ROLES),
        stop_ids=[EOS, OBSERVATION],
        final_stop_id=EOS,
        final_closed=False,
        roles_need_sampled=path == "renderer",
    )


LEGACY = LossMaskRolesConfig()
TOOL_ONLY = LossMaskRolesConfig(assistant=False, tool=True)
ALL_FLAGS = [True] * 4
CALL_OFF = [True, False, True, True]
FINAL_OFF = [True, True, True, False]

CELLS: list[tuple[str, Any, list[bool], list[int]]] = [
    # "sampled": the sampled signal, any role; the final stop appended and trained.
    ("renderer", "sampled", ALL_FLAGS, [4, 5, 6, 9, 10, 11]),
    ("template", "sampled", ALL_FLAGS, [4, 5, 6, 9, 10, 11]),
    # "all": every token, not ANDed with sampled.
    ("renderer", "all", ALL_FLAGS, [*range(11), 11]),
    ("template", "all", ALL_FLAGS, [*range(11), 11]),
    # Role table: renderer = sampled AND role; template = the role filter over the attribution.
    ("renderer", LEGACY, ALL_FLAGS, [4, 5, 6, 9, 10, 11]),
    ("template", LEGACY, ALL_FLAGS, [3, 4, 5, 8, 9, 10, 11]),
    # A role table without assistant appends no stop; a renderer never samples tool text.
    ("renderer", TOOL_ONLY, ALL_FLAGS, []),
    ("template", TOOL_ONLY, ALL_FLAGS, [6, 7]),
    # `"train": false` narrows by the turn a token belongs to: the closer follows the assistant
    # it closes, on both paths and in every mode; the appended stop follows the final message.
    ("renderer", "sampled", CALL_OFF, [9, 10, 11]),
    ("template", "sampled", CALL_OFF, [9, 10, 11]),
    ("template", "all", CALL_OFF, [0, 1, 2, 7, 8, 9, 10, 11]),
    ("template", TOOL_ONLY, CALL_OFF, [7]),
    ("renderer", "sampled", FINAL_OFF, [4, 5, 6]),
    ("template", LEGACY, FINAL_OFF, [3, 4, 5]),
]


@pytest.mark.parametrize(
    ("path", "mode", "flags", "trained"),
    CELLS,
    ids=[
        f"{path}-{mode if isinstance(mode, str) else ','.join(mode.enabled_roles())}"
        f"-{''.join('1' if f else '0' for f in flags)}"
        for path, mode, flags, _ in CELLS
    ],
)
def test_mode_table(path: str, mode: Any, flags: list[bool], trained: list[int]) -> None:
    sequence = apply_contract(described(path), mode, flags)
    appended = 11 in trained or len(sequence.ids) == 12
    assert sequence.ids == [*IDS, EOS] if appended else IDS
    assert [k for k, m in enumerate(sequence.mask) if m] == trained


def test_the_final_stop_is_appended_only_to_an_unclosed_final_turn() -> None:
    closed = described("template")
    closed.final_closed = True
    assert apply_contract(closed, "sampled", ALL_FLAGS).ids == IDS
    sequence = apply_contract(described("template"), "sampled", ALL_FLAGS)
    assert sequence.provenance[11].rule == "final-stop"
    assert sequence.turn_owner[11] == 3 and sequence.provenance[11].message_index is None


def test_rules_say_which_cell_decided() -> None:
    rules = apply_contract(described("template"), "sampled", CALL_OFF).provenance.rule
    assert rules[:7] == [
        "outside-messages", "not-sampled", "not-sampled", "not-sampled",
        "train=false", "train=false", "train=false",
    ]  # fmt: skip
    legacy = apply_contract(described("template"), LEGACY, ALL_FLAGS).provenance.rule
    assert legacy[6:8] == ["role:tool off", "role:tool off"]


@pytest.mark.parametrize("bad", ["sample", "legacy", 3, None])
def test_one_message_for_a_bad_mode(bad: Any) -> None:
    expected = f'unknown loss_mask {bad!r}; use "sampled" or "all" or a role table'
    with pytest.raises(MaskError) as from_coerce:
        coerce_loss_mask(bad)
    assert str(from_coerce.value) == expected
    if isinstance(bad, str):
        with pytest.raises(MaskError) as from_apply:
            apply_contract(described("renderer"), bad, ALL_FLAGS)
        assert str(from_apply.value) == expected
    assert MODES == ("sampled", "all")


def test_without_a_sampled_signal_only_all_applies() -> None:
    blind = described("renderer")
    blind.has_sampled_signal = False
    assert all(apply_contract(blind, "all", ALL_FLAGS).mask)
    with pytest.raises(MaskError, match="no per-token sampled signal"):
        apply_contract(blind, "sampled", ALL_FLAGS)
