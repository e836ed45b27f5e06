"""Rewrite legacy (v1) configs into explicit v2 form, keeping what every launched stack trains.

The public API is `run(MigrateOptions(...)) -> MigrateReport`, the same call `lossmask migrate`
makes: `report.files` holds one result per file, `report.stacks` the stacks used, and
`report.exit_code` the command's exit code.
"""

from lossmask.migrate.command import run
from lossmask.migrate.options import MigrateOptions
from lossmask.migrate.report import MigrateReport

__all__ = ["MigrateOptions", "MigrateReport", "run"]
