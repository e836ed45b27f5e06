"""The readers lossmask models, the default one, and how a command picks one.

A command's reading is chosen, most specific first: its `--reader` / `--schema-version` options,
then `[tool.lossmask] reader` / `schema-version` of the nearest `pyproject.toml`, then
`DEFAULT_READER`. A lossmask schema version names lossmask's own reader at that version; version 1
*is* prime-rl's reading before PR #2988, so `--schema-version 1` and `--reader prime-rl-pre-2988`
are one reading. Why the default is prime-rl main: docs/readers.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from lossmask.schema.versions import LATEST_VERSION, describe_known, version_info


@dataclass(frozen=True)
class Reader:
    name: str
    """What `--reader` and `[tool.lossmask] reader` say."""
    trainer: str
    """The trainer and versions whose reading this is, as the docs and messages name them."""
    schema_version: int | None
    """The lossmask schema version whose models parse it; None: lossmask's own, any version."""


PRIME_RL_MAIN = Reader(
    "prime-rl-main",
    "prime-rl main (since PR #2988, commit 5af45e4, 2026-07-14; modelled on 559b447)",
    # Main's `LossMaskConfig` is v1's role table, read differently (see prime_rl_main.py).
    schema_version=1,
)
PRIME_RL_PRE_2988 = Reader(
    "prime-rl-pre-2988",
    "prime-rl before PR #2988 (lossmask schema version 1)",
    schema_version=1,
)
LOSSMASK = Reader(
    "lossmask",
    "lossmask's schema (read by lossmask's reference trainer)",
    schema_version=None,
)

READERS: tuple[Reader, ...] = (PRIME_RL_MAIN, PRIME_RL_PRE_2988, LOSSMASK)
READER_NAMES: tuple[str, ...] = tuple(reader.name for reader in READERS)
DEFAULT_READER: Reader = PRIME_RL_MAIN
"""The trainer people launch these configs with today; docs/readers.md says why."""


def reader_named(name: str) -> Reader:
    for reader in READERS:
        if reader.name == name:
            return reader
    raise ReaderChoiceError(f"unknown reader {name!r}; choose one of {', '.join(READER_NAMES)}")


class ReaderChoiceError(ValueError):
    """Options that name no reading (an unknown reader, a version the reader does not read)."""


@dataclass(frozen=True)
class Reading:
    """A reader at the schema version it parses configs with."""

    reader: Reader
    version: int

    @property
    def is_main(self) -> bool:
        return self.reader is PRIME_RL_MAIN

    @property
    def reads_lossmask_schema(self) -> bool:
        """Whether the config means what lossmask's schema (at `version`) says it means."""
        return not self.is_main

    @property
    def label(self) -> str:
        if self.is_main:
            return "prime-rl main"
        if self.version == 1:
            return "prime-rl before #2988, schema v1"
        return f"lossmask schema v{self.version}"

    @property
    def name(self) -> str:
        """The `--reader` (and `--schema-version`) that select this reading again."""
        if self.reader is LOSSMASK and self.version != LATEST_VERSION:
            return f"{self.reader.name} --schema-version {self.version}"
        return self.reader.name


def _reading(reader: Reader, version: int | None, where: str) -> Reading:
    if version is not None:
        version_info(version)  # raises for an unknown version
    if reader is LOSSMASK:
        number = version if version is not None else LATEST_VERSION
        return Reading(PRIME_RL_PRE_2988, 1) if number == 1 else Reading(LOSSMASK, number)
    if version is not None and version != reader.schema_version:
        raise ReaderChoiceError(
            f"{where}: schema version {version} is a version of lossmask's own schema, which "
            f"reader {reader.name!r} does not read; use --reader lossmask with it, or drop it "
            f"(known versions are {describe_known()})"
        )
    assert reader.schema_version is not None
    return Reading(reader, reader.schema_version)


def lossmask_reading(version: int = LATEST_VERSION) -> Reading:
    """lossmask's own reading at a schema version (version 1: prime-rl before #2988)."""
    return _reading(LOSSMASK, version, "version")


def choose_reading(
    reader: str | None = None,
    version: int | None = None,
    *,
    project_reader: str | None = None,
    project_version: int | None = None,
) -> Reading:
    """The reading a command uses (see the module doc). Raises `ReaderChoiceError`."""
    if reader is not None or version is not None:
        chosen = reader_named(reader) if reader is not None else LOSSMASK
        # A version in [tool.lossmask] still applies to lossmask's reader named on the command line.
        if version is None and chosen is LOSSMASK and reader is not None:
            version = project_version
        return _reading(chosen, version, "options")
    if project_reader is not None or project_version is not None:
        chosen = reader_named(project_reader) if project_reader is not None else LOSSMASK
        return _reading(chosen, project_version, "[tool.lossmask]")
    return _reading(DEFAULT_READER, None, "default")
