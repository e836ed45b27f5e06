"""`[scheduler]`: prime-rl's schedules, checked against torch's own LR schedulers step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

from lossmask.errors import ConfigError
from lossmask.reference_trainer.outputs import write_resolved_config
from lossmask.reference_trainer.schedule import Schedule
from lossmask.reference_trainer.settings import load_settings

torch = pytest.importorskip("torch")

LR = 4e-3


def _torch_rates(max_steps: int, build: object) -> list[float]:
    """The rate of each step as torch's schedulers give it (what prime-rl builds on)."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=LR)
    scheduler = build(optimizer)  # type: ignore[operator]
    rates = []
    for _ in range(max_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def _warmup(optimizer: object, start: float, steps: int) -> object:
    return torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=start, end_factor=1.0, total_iters=steps
    )


@pytest.mark.parametrize("min_lr", [0.0, 1e-4])
def test_cosine_equals_torch_warmup_then_cosine_annealing(min_lr: float) -> None:
    max_steps, warmup = 200, 20
    start = min_lr / LR if min_lr else 1e-8

    def build(optimizer: object) -> object:
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max_steps - warmup, eta_min=min_lr
        )
        return torch.optim.lr_scheduler.SequentialLR(
            optimizer, [_warmup(optimizer, start, warmup), cosine], milestones=[warmup]
        )

    expected = _torch_rates(max_steps, build)
    schedule = Schedule("cosine", warmup, min_lr=min_lr)
    ours = [schedule.learning_rate(LR, max_steps, step) for step in range(max_steps)]
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_linear_equals_torch_warmup_constant_then_linear_decay() -> None:
    max_steps, warmup, decay, min_lr = 100, 10, 30, 1e-4
    start = min_lr / LR

    def build(optimizer: object) -> object:
        constant = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
        down = torch.optim.lr_scheduler.LinearLR(
            optimizer, start_factor=1.0, end_factor=start, total_iters=decay - 1
        )
        return torch.optim.lr_scheduler.SequentialLR(
            optimizer,
            [_warmup(optimizer, start, warmup), constant, down],
            milestones=[warmup, max_steps - decay],
        )

    expected = _torch_rates(max_steps, build)
    schedule = Schedule("linear", warmup, decay, min_lr)
    ours = [schedule.learning_rate(LR, max_steps, step) for step in range(max_steps)]
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert ours[-1] == pytest.approx(min_lr)


def test_without_scheduler_optim_warmup_keeps_its_meaning() -> None:
    schedule = Schedule("optim-warmup", 4)
    assert [schedule.learning_rate(LR, 10, step) for step in range(6)] == [
        LR / 4,
        LR / 2,
        3 * LR / 4,
        LR,
        LR,
        LR,
    ]


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(f'max_steps = 50\n[data]\nloss_mask = "sampled"\n{extra}')
    return path


def test_scheduler_reaches_the_settings_and_the_resolved_config(tmp_path: Path) -> None:
    path = _config(tmp_path, '[scheduler]\ntype = "cosine"\nwarmup_steps = 5\n')
    settings, warnings = load_settings(path, reader="lossmask")
    assert settings.schedule == Schedule("cosine", 5, 0, 0.0)
    assert not [w for w in warnings if "scheduler" in w.key_text]
    resolved = tmp_path / "resolved.toml"
    write_resolved_config(settings, resolved)
    again, _ = load_settings(resolved, reader="lossmask")
    assert again.schedule == settings.schedule


def test_a_zero_optim_warmup_hands_the_warmup_to_the_scheduler(tmp_path: Path) -> None:
    extra = '[optim]\nwarmup_steps = 0\n[scheduler]\ntype = "cosine"\nwarmup_steps = 7\n'
    settings, _ = load_settings(_config(tmp_path, extra), reader="lossmask")
    assert settings.schedule == Schedule("cosine", 7, 0, 0.0)


def test_prime_rl_defaults_apply_to_a_bare_linear_table(tmp_path: Path) -> None:
    settings, _ = load_settings(
        _config(tmp_path, '[scheduler]\ntype = "linear"\n'), reader="lossmask"
    )
    assert settings.schedule == Schedule("linear", 10, 10, 0.0)


@pytest.mark.parametrize(
    ("extra", "key", "line", "message"),
    [
        ('[scheduler]\ntype = "step"\n', "scheduler.type", 5, "must be one of"),
        (
            '[scheduler]\ntype = "cosine"\nwarmup_steps = 50\n',
            "scheduler.warmup_steps",
            6,
            "less than",
        ),
        (
            '[scheduler]\ntype = "linear"\nwarmup_steps = 30\ndecay_steps = 30\n',
            "scheduler.warmup_steps",
            6,
            "exceeds max_steps (50)",
        ),
        ('[scheduler]\ntype = "cosine"\nwarmdown = 3\n', "scheduler.warmdown", 6, "not a key"),
        (
            '[optim]\nwarmup_steps = 3\n[scheduler]\ntype = "cosine"\n',
            "optim.warmup_steps",
            5,
            "is 3 as well as [scheduler]",
        ),
    ],
)
def test_bad_scheduler_is_refused_in_toml_words(
    tmp_path: Path, extra: str, key: str, line: int, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, extra), reader="lossmask")
    (problem,) = caught.value.problems
    assert (problem.key_text, problem.line) == (key, line)
    assert message in problem.message
    assert str(tmp_path / "run.toml") == problem.file
