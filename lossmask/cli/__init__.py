"""The `lossmask` command line.

Each subcommand lives in its own module and is imported only when it runs, so `lossmask validate`
never pays for importing torch, transformers or renderers. Command modules parse options and
delegate
to the library; they hold no logic of their own.

`show`, `audit`, `train` and `experiment` need the `[train]` extra (torch, transformers,
renderers). On a config-only install they stop with a message saying what to install, in the form
that matches how lossmask was installed, and exit 2, instead of a `ModuleNotFoundError` traceback.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lossmask.exit_codes import ExitCode
from lossmask.terminal import no_color_requested

if TYPE_CHECKING:  # importlib.metadata is imported only on the error path: it is slow to import
    from importlib.metadata import Distribution

# name -> (module, one-line help). The help is repeated here so `lossmask --help` lists every
# command without importing any of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("lossmask.cli.validate_command", "Check config files against the schema."),
    "schema": ("lossmask.cli.schema_command", "Print or write the JSON Schema for editors."),
    "migrate": ("lossmask.cli.migrate_command", "Rewrite legacy configs into explicit v2 form."),
    "show": ("lossmask.cli.show_command", "Show which tokens of one sample train."),
    "audit": ("lossmask.cli.audit_command", "Audit trained tokens and stop rates over a dataset."),
    "export": ("lossmask.cli.export_command", "Write the mask as pre-tokenised trainer rows."),
    "diff": ("lossmask.cli.diff_command", "Compare two masks over one dataset, token by token."),
    "train": ("lossmask.cli.train_command", "Run the reference SFT trainer on a v2 config."),
    "experiment": ("lossmask.cli.experiment_command", "Train paths x masks x seeds; one table."),
}

# Commands that run only with an optional extra installed.
NEEDS_EXTRA: dict[str, str] = {
    "show": "train",
    "audit": "train",
    "train": "train",
    "experiment": "train",
    "export": "train",
    "diff": "train",
}


def install_command(
    extra: str, distribution: Distribution | None = None, cwd: Path | None = None
) -> str:
    """The command that adds `extra` to lossmask the way it was installed.

    Read from the installed distribution (PEP 610's `direct_url.json`, and `INSTALLER`): from an
    index, `pip install 'lossmask[train]'`; from a checkout, `pip install '.[train]'` (with `-e`
    for an editable one; the checkout's path when run elsewhere); from a VCS URL or an archive,
    the same URL again.
    """
    import json
    import shlex
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    requirement = f"lossmask[{extra}]"
    if distribution is None:
        # A build leaves `lossmask.egg-info` in a checkout, which Python also finds when run from
        # there; only the installed record says how lossmask was installed.
        found = list(metadata.distributions(name="lossmask"))
        recorded = [d for d in found if d.read_text("direct_url.json")]
        distribution = next(iter(recorded or found), None)
    if distribution is None:
        return f"pip install {shlex.quote(requirement)}"
    installer = (distribution.read_text("INSTALLER") or "pip").strip()
    pip = "uv pip install" if installer == "uv" else "pip install"
    direct = json.loads(distribution.read_text("direct_url.json") or "{}")
    url = direct.get("url")
    if not url:
        return f"{pip} {shlex.quote(requirement)}"
    if "dir_info" in direct and url.startswith("file://"):
        checkout = Path(unquote(urlparse(url).path))
        where = "." if checkout == (cwd or Path.cwd()) else str(checkout)
        editable = "-e " if direct["dir_info"].get("editable") else ""
        return f"{pip} {editable}{shlex.quote(f'{where}[{extra}]')}"
    vcs = direct.get("vcs_info")
    if vcs:
        url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    return f"{pip} {shlex.quote(f'{requirement} @ {url}')}"


def missing_extra_message(command: str, exc: ModuleNotFoundError) -> str | None:
    """What to tell a user whose install lacks the extra `command` needs, or None for a real bug.

    Only a missing third-party module counts: a missing `lossmask.*` module is a packaging bug and
    keeps its traceback.
    """
    extra = NEEDS_EXTRA.get(command)
    top = (exc.name or "").split(".")[0]
    if extra is None or not top or top == "lossmask":
        return None
    return (
        f"error: lossmask {command} needs the [{extra}] extra: {install_command(extra)} "
        f'(the module "{exc.name}" is not installed)'
    )


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        module = importlib.import_module(module_name)
        command: click.Command = module.command
        return command

    def invoke(self, ctx: click.Context) -> object:
        # Commands import their heavy modules when they run, so the import fails here, not in
        # get_command.
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            message = missing_extra_message(ctx.invoked_subcommand or "", exc)
            if message is None:
                raise
            click.echo(message, err=True)
            ctx.exit(int(ExitCode.ERROR))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short_help) for name, (_, short_help) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    # Looked up only here: importlib.metadata costs a tenth of a cold `lossmask validate`.
    from lossmask import __version__

    click.echo(f"lossmask, version {__version__}")
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Decide, provably, which tokens an SFT run trains on.

    Exit codes: 0 success, 1 something to change or fix was found, 2 error (bad usage, unreadable
    input). Colour only on a terminal, never with NO_COLOR set.
    """
    if no_color_requested():
        # click.echo strips styles from everything written while ctx.color is False.
        ctx.color = False
