"""Which of the files `lossmask.paths` finds a command checks: excludes, `.gitignore`, and the
`[tool.lossmask]` table of `pyproject.toml`, as black and ruff choose files. `validate` and
`migrate` both choose files here (`selection_for`), so they see the same files.

Files named on the command line are always checked (pre-commit names every file it passes);
`--force-exclude` applies the excludes to them too. Files found by walking a directory are
checked when they match `include` (default: every `*.toml`), match no `exclude` /
`extend-exclude` pattern, and are not ignored by git: a `.gitignore` in any directory from the
repository's top level (the directory holding `.git`) down to the file, or the repository's
`.git/info/exclude` (git's own rule: the deepest matching pattern decides, `!pattern` included),
so a run directory the repository ignores (`runs/.../config.resolved.toml`) is never walked into.
Patterns are gitignore-style (`rl.toml`, `configs/**/rl.toml`, `/build/`) and match paths
relative to the project root: the directory of the `pyproject.toml` that holds
`[tool.lossmask]`, or else the common parent of the paths given.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lossmask.errors import ConfigError, Problem
from lossmask.paths import UnlistedDirectory, is_directory, iter_toml_files
from lossmask.schema.locate import key_lines

if TYPE_CHECKING:
    # Imported where patterns are matched: its import is a third of a cold start, and a file
    # named on the command line never needs it.
    import pathspec

# Tool configs that are TOML but never SFT configs, and the record `lossmask train` writes beside
# each run (the settings a finished run used, not a config to edit); `exclude` replaces this
# list, `extend-exclude` adds to it.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    "pyproject.toml",
    "Cargo.toml",
    "taplo.toml",
    ".taplo.toml",
    "tombi.toml",
    "ruff.toml",
    ".ruff.toml",
    "uv.toml",
    "config.resolved.toml",
)

TABLE = ("tool", "lossmask")
LIST_KEYS = ("include", "exclude", "extend-exclude")
KNOWN_KEYS = ("reader", "schema-version", *LIST_KEYS, "warnings-as-errors", "respect-gitignore")


@dataclass(frozen=True)
class ProjectSettings:
    """`[tool.lossmask]` of one `pyproject.toml`; None means "not set there"."""

    path: Path | None = None
    reader: str | None = None  # a name of `lossmask.readers.READER_NAMES`
    schema_version: int | None = None
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    warnings_as_errors: bool | None = None
    respect_gitignore: bool | None = None

    @property
    def root(self) -> Path | None:
        return self.path.parent if self.path is not None else None


@dataclass(frozen=True)
class Selection:
    """What to keep of the files found; built from the command line over the project settings."""

    root: Path
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    # The git top level: `.gitignore` files count from here down (None: from `root` down).
    repository: Path | None = None
    _gitignores: dict[Path, pathspec.PathSpec | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    _chains: dict[Path, list[tuple[Path, pathspec.PathSpec]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _spec(self, patterns: Sequence[str]) -> pathspec.PathSpec:
        import pathspec

        return pathspec.GitIgnoreSpec.from_lines(patterns)

    def _relative(self, path: Path) -> str | None:
        try:
            return Path(os.path.relpath(path.absolute(), self.root)).as_posix()
        except ValueError:  # another drive (Windows)
            return None

    @cached_property
    def _exclude_spec(self) -> pathspec.PathSpec:
        return self._spec([*self.exclude, *self.extend_exclude])

    @cached_property
    def _include_spec(self) -> pathspec.PathSpec:
        return self._spec(self.include)

    @cached_property
    def _plain_names(self) -> frozenset[str] | None:
        """The excludes as file names, when each is a bare name (the default list): such a
        pattern matches any file or directory of that name, at any depth."""
        patterns = [*self.exclude, *self.extend_exclude]
        if any(any(c in p for c in "/*?[]!\\") or not p.strip() for p in patterns):
            return None
        return frozenset(p.strip() for p in patterns)

    def excluded(self, path: Path) -> bool:
        names = self._plain_names
        if names is not None:
            return not names.isdisjoint(path.parts[-1:]) or self._under_named(path, names)
        relative = self._relative(path)
        if relative is None or relative.startswith("../"):
            # Outside the project root: only the file's own name can match.
            relative = path.name
        return self._exclude_spec.match_file(relative)

    def _under_named(self, path: Path, names: frozenset[str]) -> bool:
        """Whether a directory between the project root and `path` has an excluded name."""
        if not any(part in names for part in path.parts[:-1]):
            return False
        relative = self._relative(path)
        parts = Path(relative).parts[:-1] if relative and not relative.startswith("..") else ()
        return any(part in names for part in parts)

    def included(self, path: Path) -> bool:
        if not self.include:
            return True
        relative = self._relative(path) or path.name
        return self._include_spec.match_file(relative)

    def _gitignore(self, directory: Path) -> pathspec.PathSpec | None:
        if directory not in self._gitignores:
            lines: list[str] = []
            sources = [directory / ".gitignore"]
            if directory == self.repository:
                sources.append(directory / ".git" / "info" / "exclude")
            for source in sources:
                try:
                    lines += source.read_text(encoding="utf-8").splitlines()
                except (OSError, UnicodeDecodeError):
                    continue
            self._gitignores[directory] = self._spec(lines) if lines else None
        return self._gitignores[directory]

    def _specs_above(self, directory: Path) -> list[tuple[Path, pathspec.PathSpec]]:
        """The `.gitignore` specs that apply in `directory`, from the top level down; built from
        its parent's, once per directory."""
        found = self._chains.get(directory)
        if found is None:
            top = self.repository or self.root
            own = self._gitignore(directory)
            found = [(directory, own)] if own is not None else []
            if directory != top and directory.is_relative_to(top):
                found = self._specs_above(directory.parent) + found
            self._chains[directory] = found
        return found

    def gitignored(self, path: Path) -> bool:
        """Whether git ignores `path`: the `.gitignore` files from the repository's top level
        (else the project root) down to the file's directory, each relative to its own
        directory; the deepest one that decides wins, as in git."""
        if not self.respect_gitignore:
            return False
        absolute = path.absolute()
        ignored = False
        for directory, spec in self._specs_above(absolute.parent):
            decided = spec.check_file(absolute.relative_to(directory).as_posix()).include
            if decided is not None:
                ignored = decided
        return ignored

    def skips(self, path: Path) -> bool:
        """Whether a file met in a walk is left out (excluded or ignored by git)."""
        return self.excluded(path) or self.gitignored(path)

    def keeps(self, path: Path, *, named: bool) -> bool:
        if named and not self.force_exclude:
            return True
        if self.excluded(path) or self.gitignored(path):
            return False
        return named or self.included(path)


def select_files(
    paths: Iterable[str | Path], selection: Selection
) -> Iterator[Path | UnlistedDirectory]:
    """The files to check under `paths`, in the order `lossmask.paths` finds them.

    A directory that could not be listed is passed through: the caller reports it.
    """
    for given in paths:
        named = not is_directory(given)
        for path in iter_toml_files([given]):
            if isinstance(path, UnlistedDirectory) or selection.keeps(path, named=named):
                yield path


def git_top_level(path: str | Path) -> Path | None:
    """The directory holding `.git` at or above `path` (a file's directory), or None."""
    start = Path(path).absolute()
    if not is_directory(start):
        start = start.parent
    for directory in (start, *start.parents):
        if _exists(directory / ".git"):
            return directory
    return None


def selection_for(
    paths: Sequence[str | Path],
    project: ProjectSettings,
    *,
    exclude: tuple[str, ...] | None = None,
    extend_exclude: tuple[str, ...] = (),
    force_exclude: bool = False,
    respect_gitignore: bool | None = None,
) -> Selection:
    """The one selection rule of every command: the command line over `[tool.lossmask]` over
    the defaults, `.gitignore` files counted from the git top level of the paths given."""
    chosen = exclude if exclude is not None else project.exclude
    respect = respect_gitignore
    if respect is None:
        respect = project.respect_gitignore is not False
    root = project.root or project_root_candidates(paths)
    return Selection(
        root=root,
        include=project.include or (),
        exclude=chosen if chosen is not None else DEFAULT_EXCLUDE,
        extend_exclude=(*project.extend_exclude, *extend_exclude),
        respect_gitignore=respect,
        force_exclude=force_exclude,
        repository=git_top_level(root),
    )


def project_root_candidates(paths: Sequence[str | Path]) -> Path:
    """The common parent directory of `paths` (the working directory when there are none)."""
    directories = []
    for given in paths:
        path = Path(given).absolute()
        directories.append(path if is_directory(path) else path.parent)
    if not directories:
        return Path.cwd()
    return Path(os.path.commonpath(directories))


def find_pyproject(start: Path) -> Path | None:
    """The nearest `pyproject.toml` at or above `start` that has a `[tool.lossmask]` table.

    The search stops at the top of a repository (a directory holding `.git` or `.hg`), as black's
    does, so a checkout never picks up settings from a directory above it.
    """
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}  # none there, or none that can be read
        if isinstance(data.get("tool"), dict) and "lossmask" in data["tool"]:
            return candidate
        if _exists(directory / ".git") or _exists(directory / ".hg"):
            return None
    return None


def _exists(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except OSError:
        return False


def _display(path: Path) -> str:
    """`path` as the user would write it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _error(
    path: Path, text: str, key: tuple[str, ...], message: str, suggestion: str | None = None
) -> ConfigError:
    lines = key_lines(text)
    line = lines.get(key) or lines.get(key[:-1]) or lines.get(TABLE)
    return ConfigError(
        [Problem(message, key, file=_display(path), line=line, suggestion=suggestion)]
    )


def load_project_settings(path: Path) -> ProjectSettings:
    """Read `[tool.lossmask]`; a wrong key or value is a `ConfigError` in TOML words."""
    try:
        text = path.read_text(encoding="utf-8")
        table: Any = tomllib.loads(text).get("tool", {}).get("lossmask", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError.single(
            f"cannot read [tool.lossmask]: {exc}", file=_display(path)
        ) from None
    if not isinstance(table, dict):
        raise _error(path, text, TABLE, "must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = (*TABLE, key)
        if key not in KNOWN_KEYS:
            from lossmask.schema.messages import did_you_mean  # only on this error: it is slow

            known = "known keys are " + ", ".join(KNOWN_KEYS)
            close = did_you_mean(key, KNOWN_KEYS)
            hint = f"{close} {known}" if close else known
            raise _error(path, text, where, "unknown key", suggestion=hint)
        if key == "schema-version":
            from lossmask.schema.versions import describe_known, is_version

            if not is_version(value):
                raise _error(path, text, where, f"must be {describe_known()}, not {value!r}")
            values["schema_version"] = value
        elif key == "reader":
            from lossmask.readers.registry import READER_NAMES

            if value not in READER_NAMES:
                from lossmask.schema.messages import did_you_mean

                close = did_you_mean(str(value), READER_NAMES)
                known = "readers are " + ", ".join(READER_NAMES)
                hint = f"{close} {known}" if close else known
                raise _error(path, text, where, f"unknown reader {value!r}", hint)
            values["reader"] = value
        elif key in LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _error(path, text, where, "must be an array of strings (glob patterns)")
            values[key.replace("-", "_")] = tuple(value)
        elif not isinstance(value, bool):
            raise _error(path, text, where, "must be true or false")
        else:
            values[key.replace("-", "_")] = value
    return ProjectSettings(path=path, **values)


def discover_project_settings(paths: Sequence[str | Path]) -> ProjectSettings:
    """`[tool.lossmask]` for the files in `paths`, found from their common parent upwards."""
    found = find_pyproject(project_root_candidates(paths))
    return load_project_settings(found) if found is not None else ProjectSettings()
