"""Read a config file, validate it against a schema version, and say what is wrong in TOML words."""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from pydantic import BaseModel, ValidationError

from lossmask.errors import ConfigError, Problem, UnreadableFileError
from lossmask.schema.locate import KeyPath, key_lines
from lossmask.schema.messages import did_you_mean, reword
from lossmask.schema.sections import DATA_SECTIONS, sft_sections, table_at
from lossmask.schema.v1 import SFTConfigV1
from lossmask.schema.v2 import SFTConfigV2

SFTConfig = SFTConfigV1 | SFTConfigV2
MODELS: dict[int, type[SFTConfigV1] | type[SFTConfigV2]] = {1: SFTConfigV1, 2: SFTConfigV2}
LATEST_VERSION = 2


class LossMaskConfigWarning(UserWarning):
    """A config loaded, but something in it deserves attention (unknown key, changed default)."""


@dataclass
class ConfigReport:
    """A validated config and the warnings found on the way."""

    config: Any  # SFTConfigV1 | SFTConfigV2
    warnings: list[Problem] = field(default_factory=list)


def model_for(version: int) -> type[SFTConfigV1] | type[SFTConfigV2]:
    if version not in MODELS:
        known = ", ".join(str(v) for v in MODELS)
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


def _meaning_warnings(data: Mapping[str, Any], version: int) -> list[Problem]:
    found: list[Problem] = []
    for path, section in sft_sections(data):
        if version >= 2 and "loss_mask" not in section:
            found.append(
                Problem(
                    'no loss_mask: schema version 2 trains "sampled" tokens here, where version 1 '
                    "trained assistant messages only",
                    path,
                    suggestion="run `lossmask migrate` to keep the old meaning, or set "
                    'loss_mask = "sampled" to accept the new one',
                    severity="warning",
                )
            )
    for path in DATA_SECTIONS:
        node = table_at(data, path)
        if isinstance(node, Mapping) and node.get("type") == "fake" and "loss_mask" in node:
            found.append(
                Problem(
                    'loss_mask has no effect: type = "fake" data has no messages to mask',
                    (*path, "loss_mask"),
                    severity="warning",
                )
            )
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


def _with_lines(problems: list[Problem], file: str | None, text: str | None) -> list[Problem]:
    lines = key_lines(text) if text is not None else {}
    located = []
    for problem in problems:
        path = problem.key
        line = None
        while path and line is None:
            line = lines.get(path)
            path = path[:-1]
        located.append(
            Problem(
                problem.message,
                problem.key,
                file=file,
                line=line,
                suggestion=problem.suggestion,
                severity=problem.severity,
            )
        )
    # Pydantic reports in model-field order; a reader wants file order.
    return sorted(located, key=lambda problem: problem.line or 0)


def validate_data(
    data: Mapping[str, Any],
    *,
    version: int = LATEST_VERSION,
    file: str | None = None,
    text: str | None = None,
) -> tuple[Any, list[Problem]]:
    """Validate parsed TOML. Returns `(model, warnings)`; raises `ConfigError` with every error.

    `text` (the file's source) is only used to find line numbers.
    """
    model_type = model_for(version)
    try:
        config = model_type.model_validate(data)
    except ValidationError as exc:
        problems = [reword(error, data, version) for error in exc.errors()]
        raise ConfigError(_with_lines(problems, file, text)) from None
    errors = _consistency_errors(config)
    if errors:
        raise ConfigError(_with_lines(errors, file, text))
    found = _unknown_key_warnings(config, ()) + _meaning_warnings(data, version)
    return config, _with_lines(found, file, text)


_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file; every failure becomes a `ConfigError` naming the file."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise UnreadableFileError.single("is a directory, not a TOML file", file=name) from None
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        raise UnreadableFileError.single(message, file=name) from None
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        message = _TOML_LINE.sub("", message).strip()
        raise ConfigError.single(
            f"invalid TOML: {message[0].lower()}{message[1:]}",
            file=name,
            line=int(match.group(1)) if match else None,
        ) from None
    return data, text


def check_config(path: str | Path, version: int = LATEST_VERSION) -> ConfigReport:
    """Load and validate one file, returning the model and its warnings (never printing them)."""
    data, text = read_toml(path)
    config, found = validate_data(data, version=version, file=str(path), text=text)
    return ConfigReport(config, found)


@overload
def load_config(path: str | Path, version: Literal[1]) -> SFTConfigV1: ...
@overload
def load_config(path: str | Path, version: Literal[2] = ...) -> SFTConfigV2: ...
@overload
def load_config(path: str | Path, version: int) -> SFTConfigV1 | SFTConfigV2: ...
def load_config(path: str | Path, version: int = LATEST_VERSION) -> SFTConfigV1 | SFTConfigV2:
    """Load a config file as the schema model of `version` (1 or 2).

    Raises `ConfigError` (file, key, line, suggestion) when the file is unreadable or invalid.
    Warnings (unknown keys, a v1 meaning that changed under v2) are issued as
    `LossMaskConfigWarning` through Python's `warnings` module.
    """
    report = check_config(path, version)
    for problem in report.warnings:
        warnings.warn(problem.format(), LossMaskConfigWarning, stacklevel=2)
    config: SFTConfigV1 | SFTConfigV2 = report.config
    return config
