"""The two TOML language servers, started the way their editors start them.

Tombi's server is `tombi lsp` (PyPI's `tombi`, a dev dependency). Even Better TOML's is npm's
`@taplo/lsp@0.8.0`, a library that `taplo_stdio.js` serves over stdio (PyPI's `taplo` has no
language server): `npm install --prefix DIR @taplo/lsp@0.8.0`, then `NODE_PATH=DIR/node_modules`.
A server that is not installed is skipped, with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lsp.client import LspClient

TAPLO_STDIO = Path(__file__).with_name("taplo_stdio.js")
SERVERS = ("taplo", "tombi")
# Tombi offers these for any key whose schema allows a string: they open an empty string of each
# TOML quoting style for the user to type into, not values.
TOMBI_QUOTE_HINTS = frozenset({'""', "''", '""""""', "''''''"})
# Taplo announces which schema it uses for each open document (`taplo/didChangeSchemaAssociation`).
TAPLO_ASSOCIATION = "taplo/didChangeSchemaAssociation"


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    initialization_options: Any

    def schema_reference(self, schema: Path) -> str:
        """How a `#:schema` directive names an absolute schema file: Taplo reads a URL, Tombi a
        path (both also take a path relative to the config, which the recipes test)."""
        return schema.as_uri() if self.name == "taplo" else str(schema)


def find_server(name: str) -> Server:
    if name == "tombi":
        tombi = Path(sys.executable).parent / "tombi"
        if not tombi.is_file():
            pytest.skip(f"tombi is not installed beside {sys.executable} (pip install tombi)")
        return Server("tombi", [str(tombi), "lsp"], None)
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH; @taplo/lsp runs on Node.js")
    found = subprocess.run(
        [node, "-e", "require.resolve('@taplo/lsp')"], capture_output=True, check=False
    )
    if found.returncode != 0:
        pytest.skip(
            "@taplo/lsp is not installed: npm install --prefix DIR @taplo/lsp@0.8.0, "
            "then NODE_PATH=DIR/node_modules"
        )
    # What Even Better TOML passes: its settings live under `evenBetterToml`.
    return Server("taplo", [node, str(TAPLO_STDIO)], {"configurationSection": "evenBetterToml"})


@contextmanager
def running(
    server: Server, root: Path, settings: dict[str, Any] | None = None
) -> Iterator[LspClient]:
    """`server` with `root` as its workspace; `settings` answer its configuration requests (for
    Taplo: the `evenBetterToml` section of VS Code's settings)."""
    client = LspClient(
        server.command,
        root,
        settings=settings if settings is not None else {"schema": {"enabled": True}},
        env=dict(os.environ),
    )
    try:
        client.initialize(root, server.initialization_options)
        yield client
    finally:
        client.close()


def labels(result: Any) -> list[str]:
    items = result["items"] if isinstance(result, dict) else (result or [])
    return [item["label"] for item in items]


def hover_text(result: Any) -> str:
    if result is None:
        return ""
    contents = result["contents"]
    return str(contents["value"] if isinstance(contents, dict) else contents)


def completion(client: LspClient, uri: str, line: int, character: int) -> list[str]:
    """The labels offered at a position, once the server has read the schema (until then Tombi
    offers only its quote hints, Taplo nothing)."""
    answer = client.settled_request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        ready=lambda result: bool(set(labels(result)) - TOMBI_QUOTE_HINTS),
    )
    return labels(answer)


def hover(client: LspClient, uri: str, line: int, character: int) -> str:
    return hover_text(
        client.settled_request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
    )


def diagnostics(client: LspClient, uri: str) -> list[tuple[int, str]]:
    """(line, message) of each diagnostic, in the server's order."""
    return [(d["range"]["start"]["line"], d["message"]) for d in client.diagnostics(uri)]
