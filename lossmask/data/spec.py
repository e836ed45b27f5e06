"""Where SFT data comes from: prime-rl's `[data]` keys, or one `--data PATH` string.

`name`, `subsets`, `splits` and `data_files` mean what they mean in prime-rl's SFT config, which
hands them to `datasets.load_dataset`:

- no `subsets`, no `splits`: the `train` split of the default subset;
- `subsets` only: the `train` split of each subset; `splits` only: each split of the default subset;
- both: subset *i* with split *i* (the two lists must be as long as each other);
- `data_files`: files (or glob patterns) of the dataset `name` (a builder such as `"json"` or
  `"parquet"`, or a folder they are relative to); they form one split, `train`, and `subsets` are
  ignored, as `load_dataset(name, data_files=..., split=...)` ignores them.

Where prime-rl interleaves several subsets/splits by `probabilities`, lossmask reads them one after
the other: an audit counts every row of every part, so the mixing order does not matter to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lossmask.errors import ConfigError, Problem


@dataclass(frozen=True)
class DataSpec:
    """A dataset to read: a local path or hub id, and optionally subsets, splits and files."""

    name: str
    subsets: tuple[str, ...] | None = None
    splits: tuple[str, ...] | None = None
    data_files: tuple[str, ...] | None = None

    def subsets_and_splits(self) -> list[tuple[str | None, str]]:
        """The (subset, split) pairs to read, as prime-rl pairs them."""
        if self.subsets is not None and self.splits is not None:
            return list(zip(self.subsets, self.splits, strict=True))
        if self.subsets is not None:
            return [(subset, "train") for subset in self.subsets]
        if self.splits is not None:
            return [(None, split) for split in self.splits]
        return [(None, "train")]

    @property
    def label(self) -> str:
        """How messages name the whole source: the name, or its one data file."""
        if self.data_files is None:
            return self.name
        if len(self.data_files) == 1:
            return self.data_files[0]
        return f"{self.name} data_files ({len(self.data_files)} patterns)"


def _string_list(value: Any, key: str, file: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError([Problem("must be a non-empty array of strings", ("data", key), file=file)])


def spec_from_data_table(data: Any, *, file: str | None = None) -> DataSpec | None:
    """A spec from a config's `[data]` (a v2 `DataConfigV2`, or the raw table as a mapping).

    `subsets`, `splits` and `data_files` are read whether the schema models them or keeps them as
    extra keys. None when `[data]` names no dataset (the embedded synthetic data).
    """

    def get(key: str) -> Any:
        if isinstance(data, Mapping):
            return data.get(key)
        value = getattr(data, key, None)
        if value is None and getattr(data, "model_extra", None):
            value = data.model_extra.get(key)
        return value

    name = get("name")
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise ConfigError([Problem("must be a non-empty string", ("data", "name"), file=file)])
    subsets = _string_list(get("subsets"), "subsets", file)
    splits = _string_list(get("splits"), "splits", file)
    if subsets is not None and splits is not None and len(subsets) != len(splits):
        raise ConfigError(
            [
                Problem(
                    f"has {len(splits)} entries but data.subsets has {len(subsets)}",
                    ("data", "splits"),
                    file=file,
                    suggestion="give one split per subset; split i is read from subset i",
                )
            ]
        )
    data_files = _string_list(get("data_files"), "data_files", file)
    return DataSpec(name, subsets=subsets, splits=splits, data_files=data_files)


def data_spec(
    data: Any = None, data_path: str | None = None, *, file: str | None = None
) -> DataSpec | None:
    """THE adapter for commands: `--data PATH` wins, else the config's `[data]` section.

    `data` is a `DataConfigV2` (or a mapping of the `[data]` table, or None); `file` is the config
    path, named in errors. None: no dataset configured (use the embedded synthetic data).
    """
    if data_path is not None:
        return DataSpec(data_path)
    if data is None:
        return None
    return spec_from_data_table(data, file=file)
