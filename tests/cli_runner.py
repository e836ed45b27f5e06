"""The one way tests run the `lossmask` command line in-process (check-jsonschema's `run_line`).

Every CLI test goes through `run_cli`, so how the CLI is invoked (stderr kept apart from stdout,
exceptions caught or raised, stdin, environment) is decided here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from click.testing import CliRunner, Result

from lossmask.cli import main


def run_cli(
    args: Sequence[str],
    *,
    input: str | bytes | None = None,
    env: Mapping[str, str | None] | None = None,
    catch_exceptions: bool = True,
) -> Result:
    """`lossmask ARGS...` in this process; `result.exit_code`, `.stdout`, `.stderr`, `.output`."""
    return CliRunner().invoke(
        main, list(args), input=input, env=env, catch_exceptions=catch_exceptions
    )
