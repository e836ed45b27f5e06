"""The `lossmask` command line.

Each subcommand lives in its own module and is imported only when it runs, so `lossmask validate`
never pays for importing torch, transformers or renderers. Command modules parse options and
delegate
to the library; they hold no logic of their own.
"""

from __future__ import annotations

import importlib

import click

from lossmask import __version__

# name -> (module, one-line help). The help is repeated here so `lossmask --help` lists every
# command without importing any of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("lossmask.cli.validate_command", "Check config files against the schema."),
    "schema": ("lossmask.cli.schema_command", "Print or write the JSON Schema for editors."),
    "migrate": ("lossmask.cli.migrate_command", "Rewrite legacy configs into explicit v2 form."),
    "show": ("lossmask.cli.show_command", "Show which tokens of one sample train."),
    "audit": ("lossmask.cli.audit_command", "Audit trained tokens and stop rates over a dataset."),
    "train": ("lossmask.cli.train_command", "Run the reference SFT trainer on a v2 config."),
    "experiment": ("lossmask.cli.experiment_command", "Train paths x masks x seeds; one table."),
}


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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short_help) for name, (_, short_help) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lossmask")
def main() -> None:
    """Decide, provably, which tokens an SFT run trains on.

    Exit codes: 0 success, 1 something to change or fix was found, 2 error (bad usage, unreadable
    input).
    """
