"""Turning a `DataSpec` into readable parts, with `datasets` for everything but JSON Lines.

`datasets` is imported here only, on first use, with the Hugging Face hub switched to offline
first (`HF_HUB_OFFLINE` / `HF_DATASETS_OFFLINE`, unless the user set them): a hub id is served from
the local cache or fails at once, naming the id, and never waits on a network that is not there.
"""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path
from typing import Any

from lossmask.data.errors import DataSourceError
from lossmask.data.normalize import CONVERSATION_COLUMNS_HINT, row_format
from lossmask.data.parts import DatasetPart, JsonlPart, Part
from lossmask.data.spec import DataSpec

BUILDERS = {"json": ".json", "parquet": ".parquet", "arrow": ".arrow"}
SUFFIX_BUILDER = {".json": "json", ".parquet": "parquet", ".arrow": "arrow"}
SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")
CONVERSATIONS = "conversations"
TOKENIZED = "tokenized"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def import_datasets() -> Any:
    """`datasets`, offline, quiet (lossmask prints its own progress and errors)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
    try:
        import datasets
    except ImportError:  # pragma: no cover - the [train] extra installs it
        raise DataSourceError(
            "datasets",
            "the datasets package is not installed",
            suggestion="pip install 'lossmask[train]'",
        ) from None
    if os.environ["HF_DATASETS_OFFLINE"].strip().lower() in ("1", "true", "yes", "on"):
        # `datasets` reads these variables once, at import: if something imported it before
        # they were set here, its switch is set directly so a hub id still never waits on a network.
        datasets.config.HF_HUB_OFFLINE = True
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def _cause(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[-1] if text else type(error).__name__
    return message[:300]


def _file_part(path: Path, cache_dir: str | None, shape: str) -> Part:
    label = str(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        try:
            part: Part = JsonlPart(path, label)
        except OSError as error:
            raise DataSourceError(label, f"cannot be read ({error.strerror})") from None
    elif suffix in SUFFIX_BUILDER:
        datasets = import_datasets()
        if suffix == ".parquet":
            _check_parquet(path, label)
        try:
            dataset = datasets.load_dataset(
                SUFFIX_BUILDER[suffix], data_files=[str(path)], split="train", cache_dir=cache_dir
            )
        except Exception as error:  # datasets and pyarrow raise many kinds; all mean unreadable
            raise DataSourceError(
                label,
                f"is not a readable {suffix[1:]} file ({_cause(error)})",
                suggestion="check that the file is complete; re-export it if it was cut short",
            ) from None
        part = DatasetPart(dataset, label)
    else:
        raise DataSourceError(
            label,
            f"has an unsupported file type {suffix or '(no suffix)'!r}",
            suggestion="use " + ", ".join(SUPPORTED_SUFFIXES),
        )
    checked = _checked(part, shape)
    if isinstance(checked, DataSourceError):
        raise checked
    return checked


def _check_parquet(path: Path, label: str) -> None:
    """Read the footer first: a corrupt or 0-row file gets its own message, not the builder's."""
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except OSError as error:
        raise DataSourceError(label, f"cannot be read ({error.strerror or error})") from None
    except Exception as error:
        raise DataSourceError(
            label,
            f"is not a readable parquet file ({_cause(error)})",
            suggestion="check that the file is complete; re-export it if it was cut short",
        ) from None
    if rows == 0:
        raise DataSourceError(label, "has no rows", suggestion="nothing to read here")


def _expand(pattern: str, base: Path | None) -> list[Path]:
    full = str(base / pattern) if base is not None and not Path(pattern).is_absolute() else pattern
    if glob.has_magic(full):
        return [Path(match) for match in sorted(glob.glob(full))]
    return [Path(full)] if Path(full).exists() else []


def _data_file_groups(spec: DataSpec) -> list[tuple[str, list[Path] | DataSourceError]]:
    """(split, files) for `data_files`: all files form the `train` split."""
    assert spec.data_files is not None
    base = Path(spec.name) if Path(spec.name).is_dir() else None
    if base is None and spec.name not in BUILDERS:
        raise DataSourceError(
            spec.name,
            "data_files need a builder name (json, parquet, arrow) or a local folder as data.name",
            suggestion='write name = "json" (or "parquet") with data_files, as prime-rl configs do',
        )
    files: list[Path] = []
    unmatched: list[DataSourceError] = []
    for pattern in spec.data_files:
        matches = _expand(pattern, base)
        if not matches:
            unmatched.append(DataSourceError(pattern, "matches no file (data.data_files)"))
        for match in matches:
            builder = (
                "json"
                if match.suffix.lower() == ".jsonl"
                else SUFFIX_BUILDER.get(match.suffix.lower())
            )
            if base is None and builder is not None and builder != spec.name:
                unmatched.append(
                    DataSourceError(
                        str(match),
                        f'is a {builder} file, but data.name is "{spec.name}"',
                        suggestion=f'write name = "{builder}", as load_dataset needs',
                    )
                )
            else:
                files.append(match)
    groups: list[tuple[str, list[Path] | DataSourceError]] = []
    for _, split in spec.subsets_and_splits():
        if split == "train":
            groups += [(split, error) for error in unmatched]
            groups.append((split, files))
        else:
            groups.append(
                (
                    split,
                    DataSourceError(
                        spec.name,
                        f'has no split "{split}": data_files make one split, "train"',
                        suggestion="drop data.splits, or list only one split's files",
                    ),
                )
            )
    return groups


def _folder_groups(folder: Path, spec: DataSpec) -> list[tuple[str, list[Path] | DataSourceError]]:
    """(split, files) for a folder of data files, split by file name as `datasets` splits it."""
    import_datasets()
    from datasets.data_files import DataFilesDict, get_data_patterns

    try:
        patterns = get_data_patterns(str(folder))
        by_split = DataFilesDict.from_patterns(patterns, base_path=str(folder))
    except Exception as error:
        raise DataSourceError(str(folder), f"holds no data files ({_cause(error)})") from None
    groups: list[tuple[str, list[Path] | DataSourceError]] = []
    for subset, split in spec.subsets_and_splits():
        if subset is not None:
            groups.append((split, DataSourceError(str(folder), "a local folder has no subsets")))
        elif split not in by_split:
            known = ", ".join(sorted(str(name) for name in by_split)) or "none"
            groups.append(
                (
                    split,
                    DataSourceError(str(folder), f'has no split "{split}" (its splits: {known})'),
                )
            )
        else:
            groups.append((split, [Path(name) for name in by_split[split]]))
    return groups


def _load_saved(folder: Path, label: str, shape: str) -> Part | DataSourceError:
    """One saved Dataset folder. A 0-row one has no data files, which `load_from_disk` cannot
    load, so it is told apart first."""
    datasets = import_datasets()
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        if not state.get("_data_files"):
            return DataSourceError(label, "has no rows", suggestion="nothing to read here")
        dataset = datasets.load_from_disk(str(folder))
    except Exception as error:
        return DataSourceError(label, f"is not a readable save_to_disk folder ({_cause(error)})")
    return _checked(DatasetPart(dataset, label), shape)


def _saved_parts(folder: Path, spec: DataSpec, shape: str) -> list[Part | DataSourceError]:
    """A `save_to_disk` folder: one Dataset, or a DatasetDict whose splits `splits` picks."""
    if not (folder / "dataset_dict.json").is_file():
        if spec.splits is not None or spec.subsets is not None:
            return [DataSourceError(str(folder), "holds one dataset with no splits or subsets")]
        return [_load_saved(folder, str(folder), shape)]
    try:
        names = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [DataSourceError(str(folder), f"has an unreadable dataset_dict.json ({error})")]
    parts: list[Part | DataSourceError] = []
    for subset, split in spec.subsets_and_splits():
        label = f"{folder}[{split}]"
        if subset is not None:
            parts.append(DataSourceError(label, "a save_to_disk folder has no subsets"))
        elif split not in names:
            known = ", ".join(names) or "none"
            parts.append(
                DataSourceError(str(folder), f'has no split "{split}" (its splits: {known})')
            )
        else:
            parts.append(_load_saved(folder / split, label, shape))
    return parts


def _table_shape(columns: list[str] | None, shape: str) -> str | None:
    """What a table with `columns` holds, for a source of `shape`; None when it holds none."""
    if columns is None:
        return None
    if shape == TOKENIZED:
        return TOKENIZED if "input_ids" in columns or "tokens" in columns else None
    return row_format(columns)


def _checked(part: Part, shape: str) -> Part | DataSourceError:
    """A part with rows and (for a table) the columns of a `shape` row, or why not."""
    if part.num_rows == 0:
        return DataSourceError(part.label, "has no rows", suggestion="nothing to read here")
    if isinstance(part, DatasetPart) and _table_shape(part.columns(), shape) is None:
        columns = ", ".join(part.columns()) or "none"
        if shape == TOKENIZED:
            return DataSourceError(
                part.label,
                f"has no input_ids (or tokens) column (its columns: {columns})",
                suggestion="--tokenized reads rows a trainer prepared: input_ids and a mask column",
            )
        return DataSourceError(
            part.label,
            'has no "messages" column, no "prompt" and "completion" columns and no ShareGPT '
            f'"conversations" column (its columns: {columns})',
            suggestion=CONVERSATION_COLUMNS_HINT,
        )
    return part


def _same_format(parts: list[Part | DataSourceError], shape: str) -> list[Part | DataSourceError]:
    """Files of one split hold one shape of row, as `datasets` loads them as one table."""
    first: tuple[str, str] | None = None
    checked: list[Part | DataSourceError] = []
    for part in parts:
        columns = None if isinstance(part, DataSourceError) else part.columns()
        found = _table_shape(columns, shape)
        if isinstance(part, DataSourceError) or found is None:
            checked.append(part)
        elif first is None:
            first = (found, part.label)
            checked.append(part)
        elif found != first[0]:
            checked.append(
                DataSourceError(
                    part.label,
                    f"holds {found} rows, but {first[1]} (the first file of this split) holds "
                    f"{first[0]} rows",
                    suggestion=(
                        "every data file of one split needs the same columns, as datasets "
                        "loads them as one table; convert the files to one format"
                    ),
                )
            )
        else:
            checked.append(part)
    return checked


def _hub_parts(spec: DataSpec, cache_dir: str | None, shape: str) -> list[Part | DataSourceError]:
    datasets = import_datasets()
    parts: list[Part | DataSourceError] = []
    for subset, split in spec.subsets_and_splits():
        label = f"{spec.name}[{subset}/{split}]" if subset else f"{spec.name}[{split}]"
        try:
            dataset = datasets.load_dataset(spec.name, subset, split=split, cache_dir=cache_dir)
        except (ConnectionError, FileNotFoundError) as error:
            offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
            if offline or "not cached" in str(error) or "Couldn't reach" in str(error):
                parts.append(
                    DataSourceError(
                        spec.name,
                        "is not a local path and is not in the local Hugging Face cache "
                        f"({cache_dir or datasets.config.HF_DATASETS_CACHE})",
                        suggestion=(
                            "download it once where there is network "
                            f"(datasets.load_dataset({spec.name!r})), or give a local path"
                        ),
                    )
                )
            else:
                parts.append(DataSourceError(label, f"cannot be loaded ({_cause(error)})"))
            continue
        except Exception as error:
            parts.append(DataSourceError(label, f"cannot be loaded ({_cause(error)})"))
            continue
        parts.append(_checked(DatasetPart(dataset, label), shape))
    return parts


def resolve_parts(
    spec: DataSpec, cache_dir: str | None = None, shape: str = CONVERSATIONS
) -> list[Part | DataSourceError]:
    """Every part of `spec` in reading order; an unreadable one is a `DataSourceError` there.

    `shape` is what a table must hold: conversations (`messages`, prompt/completion or ShareGPT
    columns), or `TOKENIZED` rows (`input_ids` and a mask column, what trainers prepare)."""
    path = Path(spec.name).expanduser()
    groups: list[tuple[str, list[Path] | DataSourceError]]
    try:
        if spec.data_files is not None:
            groups = _data_file_groups(spec)
        elif path.is_file():
            if spec.subsets is not None or spec.splits is not None:
                raise DataSourceError(spec.name, "a single file has no subsets or splits")
            groups = [("train", [path])]
        elif path.is_dir():
            if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
                return _saved_parts(path, spec, shape)
            groups = _folder_groups(path, spec)
        elif _HUB_ID.match(spec.name) and path.suffix.lower() not in SUPPORTED_SUFFIXES:
            return _hub_parts(spec, cache_dir, shape)
        else:
            raise DataSourceError(spec.name, "no such file or directory")
    except DataSourceError as error:
        return [error]
    parts: list[Part | DataSourceError] = []
    for _, files in groups:
        if isinstance(files, DataSourceError):
            parts.append(files)
            continue
        group: list[Part | DataSourceError] = []
        for file in files:
            try:
                group.append(_file_part(file, cache_dir, shape))
            except DataSourceError as error:
                group.append(error)
        parts += _same_format(group, shape)
    return parts
