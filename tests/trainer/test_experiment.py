"""The experiment grid (`lossmask experiment`): cells identical but for path and mask, one eval
prompt rule for all, one table and one picture.

The fast tests check the protocol without training (cell settings, the eval prompt, the table and
plot code on hand-made results, the command's errors). The slow test trains a small grid and
asserts the direction with a wide margin on the chat-template cells; the measured figures are in
docs/benchmarks.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lossmask.reference_trainer.grid import (
    GRID_JSON,
    GRID_PLOT,
    GRID_TABLE,
    CellResult,
    parse_seeds,
    plan_cells,
    run_grid,
)
from lossmask.reference_trainer.grid_report import (
    aggregate,
    budget_line,
    format_grid_table,
    plot_grid,
)
from lossmask.schema.roles import LossMaskRolesConfig
from tests.cli_runner import run_cli
from tests.conftest import REPO_ROOT

EXPERIMENT = REPO_ROOT / "examples" / "experiment"
PATHS = [EXPERIMENT / "chat-template.toml", EXPERIMENT / "renderer.toml"]


def _plan(tmp_path: Path, masks: tuple[str, ...], seeds: tuple[int, ...], eval_examples: int = 4):
    cells, _ = plan_cells(
        PATHS,
        masks,
        seeds,
        [],
        output_dir=tmp_path,
        device="cpu",
        eval_examples=eval_examples,
        max_new_tokens=8,
    )
    return cells


def test_cells_differ_only_in_path_and_mask(tmp_path: Path) -> None:
    cells = _plan(tmp_path, ("legacy", "sampled", "all"), (0, 1))
    assert [cell.label for cell in cells[:6]] == [
        "chat-template/legacy/seed0",
        "chat-template/sampled/seed0",
        "chat-template/all/seed0",
        "renderer/legacy/seed0",
        "renderer/sampled/seed0",
        "renderer/all/seed0",
    ]
    assert len(cells) == 12 and {cell.seed for cell in cells[6:]} == {1}
    masks = {cell.mask: cell.settings.data.loss_mask for cell in cells}
    assert masks == {
        "legacy": LossMaskRolesConfig(system=False, user=False, assistant=True, tool=False),
        "sampled": "sampled",
        "all": "all",
    }
    assert cells[0].settings.tokenizer_name == "embedded:glm-4.5-notags"
    assert cells[0].settings.renderer_name is None
    assert cells[3].settings.renderer_name == "glm-4.5"
    assert cells[4].settings.output_dir == tmp_path / "renderer" / "sampled" / "seed0"

    def protocol(cell) -> dict:
        resolved = cell.settings.resolved()
        for key in ("output_dir", "tokenizer", "renderer"):
            resolved.pop(key, None)
        resolved["data"].pop("loss_mask")
        return resolved

    for seed in (0, 1):
        of_seed = [protocol(cell) for cell in cells if cell.seed == seed]
        assert all(entry == of_seed[0] for entry in of_seed)
        assert of_seed[0]["seed"] == seed


def test_every_cell_is_evaluated_from_its_backends_generation_prompt(tmp_path: Path) -> None:
    """The eval's prompt is `backend.prompt_ids` as a server would send it: no per-run extension.
    With the renderer's serving-prompt gap trained, every cell's prompt is followed in training by
    a trained token (the renderer's `\\n` after `<|assistant|>` included)."""
    import torch

    from lossmask.masks import load_backend
    from lossmask.reference_trainer.data_prep import held_out_conversations
    from lossmask.reference_trainer.evaluate import evaluate_stopping, held_out_turns
    from lossmask.reference_trainer.model import build_model, resolve_model

    for cell in _plan(tmp_path, ("legacy", "sampled"), (0,), eval_examples=2):
        settings = cell.settings
        backend = load_backend(tokenizer=settings.tokenizer_name, renderer=settings.renderer_name)
        conversations = held_out_conversations(settings)
        assert conversations is not None
        model = build_model(resolve_model(None, len(backend.tokenizer), 512), seed=0)
        summary = evaluate_stopping(
            model,
            backend,
            conversations,
            loss_mask=settings.data.loss_mask,
            label=cell.label,
            max_new_tokens=2,
            device=torch.device("cpu"),
        )
        cases = held_out_turns(conversations)
        assert len(summary.turns) == len(cases)
        expected = [len(backend.prompt_ids(case.messages, case.tools)) for case in cases]
        assert [turn.prompt_tokens for turn in summary.turns] == expected, cell.label
        assert summary.pct_served_from_prompt == 100.0, cell.label
        assert summary.prompts_not_matching_training == 0, cell.label
        # GLM-4.5 closes a tool turn with <|observation|>, read from the reference rendering.
        assert summary.closing_tokens == ["<|observation|>"], cell.label
        assert summary.arguments_note == "", cell.label  # the GLM parser reads the calls back
        if settings.renderer_name is not None:
            prompt = backend.prompt_ids(cases[0].messages, cases[0].tools)
            last = backend.tokenizer.convert_ids_to_tokens(prompt[-1])
            assert last == "<|assistant|>", "the renderer's prompt ends at <|assistant|>"


def _fake_result(cell, calls: list[int], final_loss: float, right: bool = True):
    """One requested call per tool turn; `n` calls made (stopped only after exactly one), with the
    right arguments when `right` (else a wrong city)."""
    from lossmask.reference_trainer.evaluate import TurnResult, summarise

    wanted = ['get_weather({"city": "Oslo"})']
    made = ['get_weather({"city": "Oslo"})' if right else 'get_weather({"city": "Lima"})']
    turns = [
        TurnResult(
            i, "tool", 1, n, n == 1, "<|observation|>" if n == 1 else None, "",
            reference_stop="<|observation|>", wanted=wanted, made=made * n,
            calls_right=1 if right else 0,
        )
        for i, n in enumerate(calls)
    ]  # fmt: skip
    turns.append(TurnResult(9, "final", 0, 0, True, "<|endoftext|>", "", made=[]))
    return CellResult(cell, [2.0, final_loss], summarise(cell.label, turns), 1.0, 2.0)


def test_table_reports_mean_and_range_over_seeds_and_the_plot_is_written(tmp_path: Path) -> None:
    cells = _plan(tmp_path, ("legacy",), (0, 1))
    by_label = {cell.label: cell for cell in cells}
    results = [
        _fake_result(by_label["chat-template/legacy/seed0"], [3, 3, 3, 3], 0.5),
        _fake_result(by_label["renderer/legacy/seed0"], [1, 1, 1, 1], 0.25, right=False),
        _fake_result(by_label["chat-template/legacy/seed1"], [3, 3, 1, 1], 0.7),
        _fake_result(by_label["renderer/legacy/seed1"], [1, 1, 1, 1], 0.25),
    ]
    rows = aggregate(results)
    table = format_grid_table(rows).splitlines()
    assert table[0].split("|")[1:4] == [" path          ", " mask              ", " seeds "]
    header = re.split(r"(?<!\\)\|", format_grid_table(rows, markdown=True).splitlines()[0])
    assert [cell.strip().replace("\\|", "|") for cell in header[4:-1]] == [
        "ran on past request", "closed with <|observation|>", "right call count",
        "calls with right arguments", "exact", "exact, single-step", "exact, multi-step",
        "most calls in a turn", "final turns stopped", "prompt's next token trained",
        "final loss",
    ]  # fmt: skip
    template = [cell.strip() for cell in table[2].split("|")[1:-1]]
    renderer = [cell.strip() for cell in table[3].split("|")[1:-1]]
    # A turn that wrote the right call three times ran on: its count is wrong, so it is not
    # exact, although every requested call was made right.
    assert template == [
        "chat-template", "legacy role table", "0,1", "75% [50%–100%]", "25% [0%–50%]",
        "25% [0%–50%]", "100% [100%–100%]", "25% [0%–50%]", "25% [0%–50%]", "-",
        "3 [3–3]", "100% [100%–100%]", "100% [100%–100%]", "0.6000 [0.5000–0.7000]",
    ]  # fmt: skip
    # Stopped after one call every time, but with the wrong city at seed 0: right count, not exact.
    assert renderer[3:10] == [
        "0% [0%–0%]", "100% [100%–100%]", "100% [100%–100%]", "50% [0%–100%]",
        "50% [0%–100%]", "50% [0%–100%]", "-",
    ]  # fmt: skip
    markdown = format_grid_table(rows, markdown=True)
    assert "closed with <\\|observation\\|>" in markdown
    plot_grid(rows, tmp_path / "grid.png", stamp="abc")
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rows[0].calls == [3, 3, 3, 3, 3, 3, 1, 1] and rows[0].requested == [1] * 8
    assert rows[0].exact == [False] * 6 + [True] * 2


def test_budget_line_names_the_model_and_steps_each_training_ran_with(tmp_path: Path) -> None:
    cells = _plan(tmp_path, ("sampled",), (0,))
    results = [_fake_result(cell, [1], 0.5) for cell in cells]
    assert budget_line(results) == (
        "trained: model embedded:tiny-llama, 600 steps of 8 sequences (lr 0.004)"
    )
    model = "examples/experiment/model-4-layers"
    deeper, _ = plan_cells(
        PATHS[:1],
        ("sampled",),
        (0,),
        ["max_steps=3000", "data.batch_size=16", f"model.name={model}"],
        output_dir=tmp_path,
        device="cpu",
        eval_examples=4,
        max_new_tokens=8,
    )
    results.append(_fake_result(deeper[0], [1], 0.5))
    assert budget_line(results) == (
        "trained: model embedded:tiny-llama, 600 steps of 8 sequences (lr 0.004); "
        f"model {model}, 3000 steps of 16 sequences (lr 0.004)"
    )


def test_parse_seeds() -> None:
    assert parse_seeds("0, 1,2") == (0, 1, 2)
    for bad in ("", "a", "0,0"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_command_errors_exit_2_with_a_located_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('max_steps = 3\n\n[data]\nseq_len = "long"\n', encoding="utf-8")
    result = run_cli(["experiment", str(PATHS[0]), str(bad), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{bad}:4: data.seq_len:" in result.output
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written
    result = run_cli(["experiment", str(PATHS[0]), "--seeds", "0,x"])
    assert result.exit_code == 2 and "Invalid value for '--seeds'" in result.output
    result = run_cli(["experiment", str(PATHS[0]), "--mask", "roles"])
    assert result.exit_code == 2 and "Invalid value for '--mask'" in result.output


@pytest.mark.slow
def test_small_grid_shows_the_failure_needs_a_role_table_over_the_chat_template(
    tmp_path: Path,
) -> None:
    """Four cells, two at a time on one thread each, at half the main job's steps."""
    from lossmask.reference_trainer.figure_environment import FigureEnvironment
    from lossmask.reference_trainer.grid_report import write_grid_outputs

    cells, _ = plan_cells(
        PATHS,
        ("legacy", "sampled"),
        (0,),
        ["max_steps=300"],
        output_dir=tmp_path,
        device="cpu",
        eval_examples=16,
        max_new_tokens=96,
    )
    logged: list[str] = []
    result = run_grid(cells, log=logged.append, progress=False, jobs=2)
    assert result.stopped_by == 0
    threads = "1 torch thread per training, 2 trainings at once"
    environment = FigureEnvironment.capture("cpu", threads, "")
    rows = write_grid_outputs(result.results, tmp_path, logged.append, environment, 1.0)
    table = (tmp_path / GRID_TABLE).read_text()
    print(table)  # the figures, for the CI log
    by_cell = {(row.path, row.mask): row for row in rows}
    assert list(by_cell) == [
        ("chat-template", "legacy"),
        ("chat-template", "sampled"),
        ("renderer", "legacy"),
        ("renderer", "sampled"),
    ]
    legacy = by_cell["chat-template", "legacy"].values
    sampled = by_cell["chat-template", "sampled"].values
    assert legacy["pct_ran_on"][0] >= 50, table
    assert legacy["pct_closed"][0] <= 20, table
    assert sampled["pct_closed"][0] >= 80, table
    assert sampled["pct_ran_on"][0] <= legacy["pct_ran_on"][0] - 30, table
    # The renderer attributes GLM's closing <|observation|> to the assistant: its legacy table
    # trains exactly what "sampled" trains, step for step.
    assert by_cell["renderer", "legacy"].losses == by_cell["renderer", "sampled"].losses
    for row in rows:  # one prompt rule, and every cell was trained to continue from it
        assert row.values["pct_served_from_prompt"] == [100.0], table
    saved = json.loads((tmp_path / GRID_JSON).read_text())
    assert [entry["mask"] for entry in saved["cells"]] == ["legacy", "sampled", "legacy", "sampled"]
    assert saved["environment"]["figure_code"] == environment.figure_code
    assert all(entry["cpu_seconds"] > 0 for entry in saved["cells"])
    assert (tmp_path / GRID_PLOT).read_bytes()[:4] == b"\x89PNG"
    assert "| chat-template | legacy role table |" in "\n".join(logged)
    assert environment.line() in table
    assert "trained: model embedded:tiny-llama, 300 steps of 8 sequences (lr 0.004)" in table


@pytest.mark.slow
def test_cells_in_parallel_train_what_one_at_a_time_trains(tmp_path: Path) -> None:
    """--jobs 2 (worker processes, one torch thread each) gives the serial run's figures."""
    import torch

    cells, _ = plan_cells(
        PATHS,
        ("legacy", "sampled"),
        (0,),
        ["max_steps=3", "data.num_examples=16"],
        output_dir=tmp_path,
        device="cpu",
        eval_examples=2,
        max_new_tokens=8,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = run_grid(cells, log=lambda _: None, progress=False)
    finally:
        torch.set_num_threads(threads)
    parallel = run_grid(cells, log=lambda _: None, progress=False, jobs=2)
    assert [r.cell.label for r in parallel.results] == [r.cell.label for r in serial.results]
    for one, other in zip(serial.results, parallel.results, strict=True):
        assert one.losses == other.losses, one.cell.label
        assert one.summary is not None and other.summary is not None
        assert [t.generated for t in one.summary.turns] == [
            t.generated for t in other.summary.turns
        ]
