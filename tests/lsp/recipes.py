"""The recipes of docs/editors.md, read from the page itself so the tests run them as written.

A recipe is a fenced code block; one that is a file starts with a comment naming it
(`# .taplo.toml`, `// settings.json (user settings)`, `-- init.lua`), the config example starts
with its `#:schema` directive. `layout` builds the repository the page assumes.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from lossmask.schema.jsonschema import schema_filename
from lossmask.schema.versions import LATEST_VERSION
from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "editors.md"
# The page's recipes use the latest schema: a new version fails them until the page names it.
SCHEMA_NAME = schema_filename(LATEST_VERSION)
# The checkout path the VS Code recipe shows, which a reader replaces with theirs.
PLACEHOLDER_ROOT = "/home/me/your-repo"

_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    language: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]


def blocks() -> list[Block]:
    page = PAGE.read_text(encoding="utf-8")
    return [Block(language, textwrap.dedent(body)) for _, language, body in _FENCE.findall(page)]


def recipe(first_line: str) -> str:
    """The one block whose first line is (or starts with) `first_line`."""
    found = [b.text for b in blocks() if b.first_line.startswith(first_line)]
    assert len(found) == 1, f"docs/editors.md has {len(found)} blocks starting {first_line!r}"
    return found[0]


def shell_commands() -> list[str]:
    """Every command of the page's `sh` blocks (comment lines left out)."""
    return [
        line
        for block in blocks()
        if block.language == "sh"
        for line in block.text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def layout(root: Path) -> Path:
    """`root` laid out as the page assumes: `schemas/` with the latest schema, an empty `configs/`.
    Returns the schema's path."""
    schema = root / "schemas" / SCHEMA_NAME
    schema.parent.mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "schemas" / SCHEMA_NAME, schema)
    (root / "configs").mkdir()
    return schema
