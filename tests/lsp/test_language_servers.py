"""What an editor shows for `loss_mask`, asked of the real TOML language servers over LSP.

Opt-in (`-m lsp`; CI runs it): each test starts a server. Tombi's server is `tombi lsp` (PyPI's
`tombi`, a dev dependency). Even Better TOML's server is npm's `@taplo/lsp`, a library that
`taplo_stdio.js` serves over stdio; PyPI's `taplo` has no language server. Install it with
`npm install --prefix DIR @taplo/lsp` and set `NODE_PATH=DIR/node_modules`; a missing server is
skipped, with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lossmask.schema.jsonschema import schema_filename
from tests.conftest import REPO_ROOT
from tests.lsp.client import LspClient

pytestmark = pytest.mark.lsp

SCHEMA = REPO_ROOT / "schemas" / schema_filename(2)
TAPLO_STDIO = Path(__file__).with_name("taplo_stdio.js")
# Tombi offers these for any key whose schema allows a string: they open an empty string of each
# TOML quoting style for the user to type into, not values.
TOMBI_QUOTE_HINTS = {'""', "''", '""""""', "''''''"}


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    initialization_options: Any
    # Taplo resolves `#:schema` as a URL, Tombi as a path.
    schema_reference: str


def _tombi() -> Server:
    tombi = Path(sys.executable).parent / "tombi"
    if not tombi.is_file():
        pytest.skip(f"tombi is not installed beside {sys.executable} (pip install tombi)")
    return Server("tombi", [str(tombi), "lsp"], None, str(SCHEMA))


def _taplo() -> Server:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH; @taplo/lsp runs on Node.js")
    found = subprocess.run(
        [node, "-e", "require.resolve('@taplo/lsp')"], capture_output=True, check=False
    )
    if found.returncode != 0:
        pytest.skip(
            "@taplo/lsp is not installed: npm install --prefix DIR @taplo/lsp, "
            "then NODE_PATH=DIR/node_modules"
        )
    options = {"configurationSection": "evenBetterToml"}
    return Server("taplo", [node, str(TAPLO_STDIO)], options, SCHEMA.as_uri())


@pytest.fixture(scope="module", params=["taplo", "tombi"])
def server(request: pytest.FixtureRequest) -> Server:
    return _taplo() if request.param == "taplo" else _tombi()


@pytest.fixture(scope="module")
def workspace(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(server.name)


@pytest.fixture(scope="module")
def client(server: Server, workspace: Path) -> Iterator[LspClient]:
    """One server per module: starting Taplo's WebAssembly build takes seconds."""
    lsp = LspClient(
        server.command, workspace, settings={"schema": {"enabled": True}}, env=dict(os.environ)
    )
    try:
        lsp.initialize(workspace, server.initialization_options)
        yield lsp
    finally:
        lsp.close()


@pytest.fixture
def tmp_path(workspace: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh directory per test inside the server's workspace, so documents never collide."""
    directory = workspace / request.node.name.replace("[", "-").replace("]", "").replace('"', "")
    directory.mkdir()
    return directory


def _open(client: LspClient, server: Server, path: Path, body: str) -> str:
    text = f"#:schema {server.schema_reference}\n" + body
    path.write_text(text, encoding="utf-8")
    return client.open(path, text)


def _labels(result: Any) -> list[str]:
    items = result["items"] if isinstance(result, dict) else (result or [])
    return [item["label"] for item in items]


def _hover_text(result: Any) -> str:
    contents = result["contents"]
    return str(contents["value"] if isinstance(contents, dict) else contents)


def test_completion_after_loss_mask_offers_only_valid_values(
    client: LspClient, server: Server, tmp_path: Path
) -> None:
    uri = _open(client, server, tmp_path / "c.toml", "[data]\nloss_mask = \n")
    position = {"line": 2, "character": len("loss_mask = ")}
    # Until the schema is loaded Tombi offers only its quote hints: wait for more than that.
    answer = client.settled_request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": position},
        ready=lambda result: bool(set(_labels(result)) - TOMBI_QUOTE_HINTS),
    )
    labels = _labels(answer)
    if server.name == "taplo":
        assert labels == ['"sampled"', '"all"', "{ }"]
    else:
        assert [label for label in labels if label not in TOMBI_QUOTE_HINTS] == [
            '"sampled"',
            '"all"',
            "{}",
        ]


@pytest.mark.parametrize("column", [len("loss"), len('loss_mask = "sam')], ids=["key", "value"])
def test_hover_opens_with_what_the_setting_does(
    client: LspClient, server: Server, tmp_path: Path, column: int
) -> None:
    uri = _open(client, server, tmp_path / "h.toml", '[data]\nloss_mask = "sampled"\n')
    position = {"line": 2, "character": column}
    text = _hover_text(
        client.settled_request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
        )
    )
    # On the value Taplo shows the documentation of the value itself.
    on_sampled = server.name == "taplo" and column > len("loss_mask")
    first = (
        "Train every token the model would have sampled" if on_sampled else "Which tokens train."
    )
    assert text.startswith(first), text


EXPECTED_DIAGNOSTICS = {
    ("taplo", '"sampeld"'): ['"sampeld" is not one of ["sampled","all"]'],
    ("taplo", "true"): ['true is not of types "object", "string"'],
    ("taplo", "{ assistnt = true }"): [
        "Additional properties are not allowed ('assistnt' was unexpected)"
    ],
    ("tombi", '"sampeld"'): ['the value must be one of ["sampled", "all"], but found "sampeld"'],
    ("tombi", "true"): [
        "expected a value of type String, but found Boolean",
        "expected a value of type Table, but found Boolean",
    ],
    ("tombi", "{ assistnt = true }"): ['"assistnt" is not allowed'],
}


@pytest.mark.parametrize("value", ['"sampeld"', "true", "{ assistnt = true }"])
def test_a_bad_value_is_reported_precisely(
    client: LspClient, server: Server, tmp_path: Path, value: str
) -> None:
    uri = _open(client, server, tmp_path / "bad.toml", f"[data]\nloss_mask = {value}\n")
    messages = [d["message"] for d in client.diagnostics(uri)]
    assert messages == EXPECTED_DIAGNOSTICS[(server.name, value)]
