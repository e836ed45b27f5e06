"""Launch lines read from each kind of file as the program that runs them would read it.

- shell scripts: the whole script (`shell.read_shell`): variables, `cd`, quoting, here-documents;
- Makefiles: Make variables (`X = ...`, `$(X)`, `?=`, `+=`) expanded first, then each recipe line
  as its own shell (a `cd` lasts one line, as in Make);
- YAML (CI workflows, Kubernetes): every scalar as a shell line, literal blocks (`run: |`) as
  scripts, folded blocks (`run: >`) and plain multi-line scalars joined as YAML joins them,
  `env:` entries as variables, `working-directory:` as the directory, a sequence of single words
  (`command: [uv, run, sft, "@", a.toml]`) as one argument list;
- Markdown: fenced blocks by their language (shell by default), inline code spans, and prose;
  a `cd` lasts its own line (a `cd prime-rl` after a clone is the reader's step);
- TOML: only comments (`# Compose: uv run sft @ ...`);
- Python: argument lists (`python_launches`).

Commented-out lines are never launches: shell `#` comments, YAML and TOML comments inside the
text read, HTML comments in Markdown, a TOML comment that comments out another (`# # ...`).
"""

from __future__ import annotations

import os
import re

from lossmask.config_files.launches import LaunchLine, from_commands, shifted
from lossmask.config_files.shell import SUBSTITUTE_CLOSE, SUBSTITUTE_OPEN, read_shell
from lossmask.config_files.words import Unknown, Word
from lossmask.config_files.yaml_launches import yaml

MAKEFILES = frozenset({"Makefile", "makefile", "GNUmakefile"})


def read_launches(text: str, file: str, *, toml: bool = False) -> list[LaunchLine]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    name = os.path.basename(file)
    if toml or name.endswith(".toml"):
        return toml_comments(text, file)
    if name.endswith((".md", ".markdown")):
        return markdown(text, file)
    if name.endswith((".yml", ".yaml")):
        return yaml(text, file)
    if name in MAKEFILES or name.endswith(".mk"):
        return makefile(text, file)
    if name.endswith(".py"):
        from lossmask.config_files.python_launches import python_launches

        return python_launches(text, file)
    return from_commands(read_shell(text), file)


# --- prose: TOML comments and Markdown text -------------------------------------------------------

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _prose(line: str) -> str:
    """The shell text of a line of prose: its inline code spans, or else the line itself."""
    spans = [match.group(2) for match in _CODE_SPAN.finditer(line)]
    if spans:
        return " ; ".join(spans)
    return line.replace("`", " ").replace("#", "\\#")


def toml_comments(text: str, file: str, first_line: int = 1) -> list[LaunchLine]:
    """Launches in the full-line comments of a TOML text; runs of comment lines read together,
    so `\\` continues a launch onto the next comment line."""
    found: list[LaunchLine] = []
    block: list[str] = []
    numbers: list[int] = []
    for number, raw in enumerate([*text.split("\n"), ""], start=first_line):
        stripped = raw.lstrip()
        if stripped.startswith("#"):
            body = stripped.lstrip("#")
            if not body.lstrip().startswith("#"):  # `# # uv run ...`: commented out
                block.append(_prose(body) if "`" in body else body)
                numbers.append(number)
                continue
        if block and "@" in "".join(block):
            found.extend(from_commands(read_shell("\n".join(block)), file, numbers))
        block, numbers = [], []
    return found


# --- Markdown -------------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)")
_SHELL_PROMPT = re.compile(r"^\s*(?:\(\S+\)\s*)?[$%]\s")


def markdown(text: str, file: str) -> list[LaunchLine]:
    lines = text.split("\n")
    found: list[LaunchLine] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<!--" in line:
            end = index
            while end < len(lines) and "-->" not in lines[end]:
                end += 1
            before = line[: line.index("<!--")]
            after = lines[end].split("-->", 1)[1] if end < len(lines) else ""
            rest = before + " " + after if end == index else after
            if end == index or "@" in rest:
                found.extend(_prose_line(rest, file, end + 1))
            index = end + 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if "@" in line:
                found.extend(_prose_line(line, file, index + 1))
            index += 1
            continue
        marker, language = fence.group(1), fence.group(2).lower()
        end = index + 1
        while end < len(lines) and not lines[end].lstrip().startswith(marker):
            end += 1
        body = "\n".join(lines[index + 1 : end])
        if "@" in body:
            found.extend(_fenced(body, language, file, index + 2))
        index = end + 1
    return found


def _prose_line(line: str, file: str, number: int) -> list[LaunchLine]:
    return from_commands(read_shell(_prose(line), first_line=number), file)


def _fenced(body: str, language: str, file: str, first_line: int) -> list[LaunchLine]:
    if language in ("python", "py", "python3", "pycon"):
        from lossmask.config_files.python_launches import python_launches

        return python_launches(body, file, first_line=first_line)
    if language in ("yaml", "yml"):
        return shifted(yaml(body, file), first_line)
    if language == "toml":
        return toml_comments(body, file, first_line)
    if language in ("make", "makefile"):
        return shifted(makefile(body, file), first_line)
    if language in ("console", "shell-session", "sh-session"):
        # Commands follow a prompt; the other lines are their output.
        body = "\n".join(
            _SHELL_PROMPT.sub("", line, count=1) if _SHELL_PROMPT.match(line) else ""
            for line in body.split("\n")
        )
    return from_commands(read_shell(body, first_line=first_line, keep_directory=False), file)


# --- Makefiles ------------------------------------------------------------------------------------

_MAKE_ASSIGNMENT = re.compile(
    r"^(?:(?:export|override)\s+)*([A-Za-z_][A-Za-z0-9_.-]*)\s*(::?=|:::=|\?=|\+=|!=|=)\s*(.*)$"
)


def _joined_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each line with its backslash continuations joined."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 1
    for number, line in enumerate(text.split("\n"), start=1):
        if not pending:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined.append((start, " ".join(pending)))
        pending = []
    if pending:
        joined.append((start, " ".join(pending)))
    return joined


def _strip_make_comment(value: str) -> str:
    match = re.search(r"(?<!\\)#", value)
    return value[: match.start()] if match else value


def makefile(text: str, file: str) -> list[LaunchLine]:
    variables: dict[str, str | Unknown] = {}
    recipes: list[tuple[int, str]] = []
    for number, line in _joined_lines(text):
        if line.startswith("\t"):
            recipes.append((number, line[1:]))
            continue
        match = _MAKE_ASSIGNMENT.match(line)
        if match is None:
            continue
        name, operator, value = match.group(1), match.group(2), _strip_make_comment(match.group(3))
        value = value.strip()
        if operator == "!=":
            variables[name] = Unknown(f"$({name}) is the output of a shell command")
        elif operator == "?=":
            variables.setdefault(name, value)
        elif operator == "+=":
            previous = variables.get(name, "")
            if isinstance(previous, Unknown):
                continue
            variables[name] = f"{previous} {value}".strip()
        else:
            variables[name] = value
    found: list[LaunchLine] = []
    for number, recipe in recipes:
        if "@" not in recipe and "$" not in recipe:
            continue
        command = recipe.lstrip().lstrip("@-+").lstrip()  # recipe prefixes, not layers
        substitutions: list[Word] = []
        expanded = _make_expand(command, variables, substitutions, set())
        if "@" not in expanded:
            continue
        commands = read_shell(expanded, first_line=number, substitutions=substitutions)
        found.extend(from_commands(commands, file))
    return found


_MAKE_REFERENCE = re.compile(r"\$(?:\(([^()]*)\)|\{([^{}]*)\}|(.))")


def _make_expand(
    text: str,
    variables: dict[str, str | Unknown],
    substitutions: list[Word],
    seen: set[str],
) -> str:
    """`text` with Make's references replaced: known variables by their text (the shell reads
    it after Make), anything else by a placeholder for an unknown piece, `$$` by `$`."""

    def unknown(reason: str, written: str) -> str:
        substitutions.append(Word((Unknown(reason),), written))
        return f"{SUBSTITUTE_OPEN}{len(substitutions) - 1}{SUBSTITUTE_CLOSE}"

    def replace(match: re.Match[str]) -> str:
        written = match.group()
        name = match.group(1) if match.group(1) is not None else match.group(2)
        single = match.group(3)
        if single is not None:
            if single == "$":
                return "$"
            if single in "@<^*?+|%":
                return unknown(f"the Make automatic variable ${single}", written)
            name = single
        assert name is not None
        if " " in name or "," in name:
            return unknown(
                f"the Make function $({name.split()[0] if name.split() else name})", written
            )
        value = variables.get(name)
        if value is None:
            return unknown(f"$({name}) is not set in this Makefile", written)
        if isinstance(value, Unknown):
            return unknown(value.reason, written)
        if name in seen:
            return unknown(f"$({name}) refers to itself", written)
        return _make_expand(value, variables, substitutions, seen | {name})

    return _MAKE_REFERENCE.sub(replace, text)


__all__ = ["from_commands", "makefile", "markdown", "read_launches", "toml_comments", "yaml"]
