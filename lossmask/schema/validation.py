"""Read a config file, validate it against a schema version, and say what is wrong in TOML words."""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, ValidationError

from lossmask.errors import ConfigError, Problem, UnreadableFileError, format_key
from lossmask.paths import UnreadablePath, read_regular_file
from lossmask.schema.locate import KeyPath
from lossmask.schema.meaning import meaning_warnings, with_lines
from lossmask.schema.messages import did_you_mean, merge_alternatives, reword
from lossmask.schema.v1 import SFTConfigV1
from lossmask.schema.v2 import SFTConfigV2
from lossmask.schema.v3 import SFTConfigV3
from lossmask.schema.versions import LATEST_VERSION, NUMBERS, describe_known
from lossmask.schema.versions import model_for as _registered_model
from lossmask.toml_keys import deepest_key, duplicate_key
from lossmask.toml_text import deepest_nesting

if TYPE_CHECKING:
    from lossmask.readers.registry import Reading

SFTConfig = SFTConfigV1 | SFTConfigV2 | SFTConfigV3
MODELS: dict[int, Any] = {number: _registered_model(number) for number in NUMBERS}
# The model of every version of `lossmask.schema.versions`, by number.


class LossMaskConfigWarning(UserWarning):
    """A config loaded, but something in it deserves attention (unknown key, changed default)."""


@dataclass
class ConfigReport:
    """A validated config and the warnings found on the way."""

    config: Any  # SFTConfigV1 | SFTConfigV2 | SFTConfigV3
    warnings: list[Problem] = field(default_factory=list)


def model_for(version: int) -> Any:
    if version not in MODELS:
        known = describe_known()
        raise ValueError(f"unknown schema version {version}; known versions are {known}")
    return MODELS[version]


def _unknown_key_warnings(model: BaseModel, path: KeyPath) -> list[Problem]:
    found: list[Problem] = []
    known = list(type(model).model_fields)
    for key in model.model_extra or {}:
        table = ".".join(str(p) for p in path)
        where = f"table [{table}]" if table else "the top level"
        found.append(
            Problem(
                f"unknown key in {where}; lossmask keeps it but does not check or use it",
                (*path, key),
                suggestion=did_you_mean(key, known),
                severity="warning",
            )
        )
    for name in type(model).model_fields:
        child = getattr(model, name)
        if isinstance(child, BaseModel):
            found.extend(_unknown_key_warnings(child, (*path, name)))
    return found


def _consistency_errors(config: Any) -> list[Problem]:
    errors: list[Problem] = []
    sections: list[tuple[KeyPath, Any]] = [(("data",), config.data)]
    if config.val is not None and config.val.data is not None:
        sections.append((("val", "data"), config.val.data))
    for path, section in sections:
        micro = section.micro_batch_size
        if micro is not None and section.batch_size % micro != 0:
            errors.append(
                Problem(
                    f"must divide batch_size ({section.batch_size}), not {micro}",
                    (*path, "micro_batch_size"),
                )
            )
    return errors


def validate_data(
    data: Mapping[str, Any],
    *,
    version: int = LATEST_VERSION,
    file: str | None = None,
    text: str | None = None,
    reading: Reading | None = None,
) -> tuple[Any, list[Problem]]:
    """Validate parsed TOML. Returns `(model, warnings)`; raises `ConfigError` with every error.

    `reading` (a `lossmask.readers.Reading`) decides the schema version and adds what that
    trainer refuses (prime-rl main: a renderer it rejects, `loss_mask = "sampled"`); without it
    the config is read as lossmask's schema at `version`. `text` (the file's source) is only used
    to find line numbers.
    """
    from lossmask.readers.checks import reading_errors
    from lossmask.readers.registry import lossmask_reading

    reading = reading or lossmask_reading(version)
    version = reading.version
    refused = reading_errors(data, reading)
    said = {problem.key for problem in refused}
    model_type = model_for(version)
    try:
        config = model_type.model_validate(data)
    except ValidationError as exc:
        problems = merge_alternatives([reword(error, data, version) for error in exc.errors()])
        problems = [*refused, *(p for p in problems if p.key not in said)]
        raise ConfigError(with_lines(problems, file, text)) from None
    except RecursionError:
        raise UnreadableFileError([nesting_problem(text or "", file)]) from None
    errors = refused + _consistency_errors(config)
    if errors:
        raise ConfigError(with_lines(errors, file, text))
    found = _unknown_key_warnings(config, ()) + meaning_warnings(data, version, reading)
    return config, with_lines(found, file, text)


_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def duplicate_key_problem(text: str, message: str, line: int | None) -> Problem | None:
    """`tomllib`'s "Cannot declare ('data',) twice" / "Cannot overwrite a value" in TOML words:
    the key path defined twice, where, and where it was first defined."""
    found = duplicate_key(text, message, line)
    if found is None:
        return None
    key, first = found
    where = f" (first on line {first})" if first is not None else ""
    if message.startswith("Cannot declare"):
        return Problem(
            f"table defined twice{where}; TOML allows one definition of a table",
            key,
            line=line,
            suggestion=f"merge the two into one [{format_key(key)}] table",
        )
    return Problem(
        f"set twice{where}; TOML allows one value per key",
        key,
        line=line,
        suggestion="keep one of the two",
    )


_BOM = "\ufeff"


def nesting_problem(text: str, file: str | None = None) -> Problem:
    """The problem to report when a text nests deeper than a recursive parser can follow: the
    deepest array or inline table, or the longest dotted key (`[a.a.a...]`), whichever is
    deeper, each said for what it is."""
    depth, line = deepest_nesting(text)
    levels, key_line = deepest_key(text)
    if levels > depth:
        return Problem(
            f"nesting too deep: a dotted key of {levels:,} parts nests tables {levels:,} levels "
            "deep, more than lossmask can follow",
            file=file,
            line=key_line,
            suggestion="shorten the key: write fewer levels of tables",
        )
    return Problem(
        f"nesting too deep: arrays and inline tables nested {depth} levels deep, more than "
        "lossmask can follow",
        file=file,
        line=line,
        suggestion="write the inner levels as [table] headers, or split the value up",
    )


def parse_toml(text: str, file: str | None = None) -> dict[str, Any]:
    """`tomllib.loads(text)`, every failure a `ConfigError` naming the file and the line.

    Invalid TOML is a `ConfigError` (something to fix); a text nested too deeply to parse, which
    lossmask cannot read at all, is an `UnreadableFileError`.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if text.startswith(_BOM):
            raise ConfigError.single(
                "starts with a UTF-8 byte order mark (BOM), which TOML does not allow",
                file=file,
                line=1,
                suggestion="remove the BOM: re-save the file as UTF-8 without BOM",
            ) from None
        message = str(exc)
        match = _TOML_LINE.search(message)
        message = _TOML_LINE.sub("", message).strip()
        duplicate = duplicate_key_problem(text, message, int(match.group(1)) if match else None)
        if duplicate is not None:
            raise ConfigError([replace(duplicate, file=file)]) from None
        raise ConfigError.single(
            f"invalid TOML: {message[0].lower()}{message[1:]}",
            file=file,
            line=int(match.group(1)) if match else None,
        ) from None
    except RecursionError:
        raise UnreadableFileError([nesting_problem(text, file)]) from None


def read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file; every failure becomes a `ConfigError` naming the file.

    Only a regular file is read (a FIFO, a device or a link to one is refused before any read).
    """
    name = str(path)
    try:
        raw = read_regular_file(name)
    except UnreadablePath as exc:
        raise UnreadableFileError.single(
            exc.message, file=name, suggestion=exc.suggestion
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UnreadableFileError.single(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            file=name,
            line=line,
            suggestion="TOML files must be UTF-8; re-save the file as UTF-8",
        ) from None
    del raw  # a big file's bytes need not stay beside its text and its parse
    return parse_toml(text, name), text


def check_config(
    path: str | Path, version: int = LATEST_VERSION, reading: Reading | None = None
) -> ConfigReport:
    """Load and validate one file, returning the model and its warnings (never printing them)."""
    data, text = read_toml(path)
    config, found = validate_data(data, version=version, file=str(path), text=text, reading=reading)
    return ConfigReport(config, found)


@overload
def load_config(path: str | Path, version: Literal[1]) -> SFTConfigV1: ...
@overload
def load_config(path: str | Path, version: Literal[2]) -> SFTConfigV2: ...
@overload
def load_config(path: str | Path, version: Literal[3] = ...) -> SFTConfigV3: ...
@overload
def load_config(path: str | Path, version: int) -> SFTConfig: ...
def load_config(path: str | Path, version: int = LATEST_VERSION) -> SFTConfig:
    """Load a config file as the schema model of `version` (see `lossmask.schema.versions`).

    Raises `ConfigError` (file, key, line, suggestion) when the file is unreadable or invalid.
    Warnings (unknown keys, a v1 meaning that changed later) are issued as
    `LossMaskConfigWarning` through Python's `warnings` module.
    """
    report = check_config(path, version)
    for problem in report.warnings:
        warnings.warn(problem.format(), LossMaskConfigWarning, stacklevel=2)
    config: SFTConfig = report.config
    return config
