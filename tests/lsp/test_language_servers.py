"""What an editor shows for `loss_mask`, asked of the real TOML language servers over LSP.

Opt-in (`-m lsp`; CI runs it). Every schema version the project ships is checked (the versions
of `lossmask.schema.validation.MODELS`, so a new one is picked up): completion inside a role table,
the line of a bad role's diagnostic, hover on the key and on values. The expected texts come from
the pydantic models the schemas are generated from. docs/editors.md shows the same in a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from lossmask.schema.jsonschema import schema_filename
from lossmask.schema.roles import MODE_DESCRIPTIONS, ROLES, LossMaskRolesConfig
from lossmask.schema.validation import MODELS
from tests.conftest import REPO_ROOT
from tests.lsp.client import LspClient
from tests.lsp.servers import (
    SERVERS,
    TOMBI_QUOTE_HINTS,
    Server,
    completion,
    diagnostics,
    find_server,
    hover,
    running,
)

pytestmark = pytest.mark.lsp

VERSIONS = sorted(MODELS)


def _data_model(version: int) -> type[BaseModel]:
    model = MODELS[version].model_fields["data"].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _key_text(version: int) -> str:
    text = _data_model(version).model_fields["loss_mask"].description
    assert text
    return text


def _modes(version: int) -> list[str]:
    """The `loss_mask` strings this version accepts (none for a role table only)."""
    accepted = []
    for mode in MODE_DESCRIPTIONS:
        try:
            _data_model(version).model_validate({"loss_mask": mode})
        except ValidationError:
            continue
        accepted.append(mode)
    return accepted


def _role_text(role: str) -> str:
    text = LossMaskRolesConfig.model_fields[role].description
    assert text
    return text


MODE_VERSIONS = [version for version in VERSIONS if _modes(version)]


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Server:
    return find_server(request.param)


@pytest.fixture(scope="module")
def workspace(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(server.name)


@pytest.fixture(scope="module")
def client(server: Server, workspace: Path) -> Iterator[LspClient]:
    """One server per module: starting Taplo's WebAssembly build takes seconds."""
    with running(server, workspace) as lsp:
        yield lsp


@pytest.fixture
def tmp_path(workspace: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh directory per test inside the server's workspace, so documents never collide."""
    name = request.node.name
    directory = workspace / "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    directory.mkdir()
    return directory


def _open(client: LspClient, server: Server, version: int, path: Path, body: str) -> str:
    """Opens `body` under a `#:schema` directive for `version`; line 1 is the body's first."""
    schema = REPO_ROOT / "schemas" / schema_filename(version)
    text = f"#:schema {server.schema_reference(schema)}\n" + body
    path.write_text(text, encoding="utf-8")
    return client.open(path, text)


# (document body, line, column) of an empty spot inside a role table; lines count the directive.
ROLE_TABLE_SPOTS = {
    "header": ("[data.loss_mask]\n\n", 2, 0),
    "inline": ("[data]\nloss_mask = { }\n", 2, len("loss_mask = { ")),
    "validation": ("[val.data.loss_mask]\n\n", 2, 0),
}


@pytest.mark.parametrize("spot", ROLE_TABLE_SPOTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_role_names_complete_inside_a_role_table(
    client: LspClient, server: Server, tmp_path: Path, version: int, spot: str
) -> None:
    body, line, column = ROLE_TABLE_SPOTS[spot]
    uri = _open(client, server, version, tmp_path / "roles.toml", body)
    assert completion(client, uri, line, column) == list(ROLES)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_role_already_written_is_not_offered_again(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    body = "[data.loss_mask]\nassistant = true\n\n"
    uri = _open(client, server, version, tmp_path / "roles.toml", body)
    assert completion(client, uri, 3, 0) == [role for role in ROLES if role != "assistant"]


@pytest.mark.parametrize("version", VERSIONS)
def test_each_data_key_is_offered_once(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    uri = _open(client, server, version, tmp_path / "keys.toml", "[data]\n\n")
    offered = completion(client, uri, 2, 0)
    assert offered.count("loss_mask") == 1
    assert len(offered) == len(set(offered)), offered


BAD_ROLE = {
    "taplo": "Additional properties are not allowed ('assistnt' was unexpected)",
    "tombi": '"assistnt" is not allowed',
}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bad_role_in_a_table_is_reported(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    body = "[data.loss_mask]\nassistant = true\nassistnt = true\n"
    uri = _open(client, server, version, tmp_path / "bad.toml", body)
    # Tombi marks the key. Taplo's validator reports an unknown key against the table that holds
    # it, and Taplo marks that table's key: the `[data.loss_mask]` header (docs/editors.md).
    line = 3 if server.name == "tombi" else 1
    assert diagnostics(client, uri) == [(line, BAD_ROLE[server.name])]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bad_role_in_an_inline_table_is_reported_on_its_line(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    body = "[data]\nseq_len = 512\nloss_mask = { assistnt = true }\n"
    uri = _open(client, server, version, tmp_path / "bad.toml", body)
    assert diagnostics(client, uri) == [(3, BAD_ROLE[server.name])]


@pytest.mark.parametrize("version", VERSIONS)
def test_hover_on_a_role_and_its_value(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    uri = _open(client, server, version, tmp_path / "h.toml", "[data.loss_mask]\nuser = true\n")
    for column in (len("us"), len("user = tr")):
        assert hover(client, uri, 2, column).startswith(_role_text("user"))


@pytest.mark.parametrize("version", VERSIONS)
def test_hover_on_the_key_of_a_role_table(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    body = "[data]\nloss_mask = { user = true }\n\n[val.data.loss_mask]\nuser = true\n"
    uri = _open(client, server, version, tmp_path / "h.toml", body)
    for line, column in ((2, len("loss")), (4, len("[val.data.lo"))):
        text = hover(client, uri, line, column)
        if server.name == "taplo":
            assert text.strip() == _key_text(version)
        else:
            assert text.startswith(_key_text(version))


@pytest.mark.parametrize(
    ("version", "mode"), [(v, mode) for v in MODE_VERSIONS for mode in _modes(v)]
)
def test_hover_on_a_mode_shows_what_it_does(
    client: LspClient, server: Server, tmp_path: Path, version: int, mode: str
) -> None:
    uri = _open(client, server, version, tmp_path / "h.toml", f'[data]\nloss_mask = "{mode}"\n')
    on_key = hover(client, uri, 2, len("loss"))
    on_value = hover(client, uri, 2, len('loss_mask = "s'))
    if server.name == "taplo":
        # Taplo: the key's text on the key, the value's on the value, each once.
        assert on_key.strip() == _key_text(version)
        assert on_value.strip() == MODE_DESCRIPTIONS[mode]
    else:
        # Tombi gives a key and its value one hover: the value's text, then the key's.
        for text in (on_key, on_value):
            assert text.startswith(f"{MODE_DESCRIPTIONS[mode]}\n\n{_key_text(version)}\n\n")


@pytest.mark.parametrize("version", MODE_VERSIONS)
def test_completion_after_the_key_offers_the_modes_and_a_table(
    client: LspClient, server: Server, tmp_path: Path, version: int
) -> None:
    uri = _open(client, server, version, tmp_path / "c.toml", "[data]\nloss_mask = \n")
    offered = completion(client, uri, 2, len("loss_mask = "))
    modes = [f'"{mode}"' for mode in _modes(version)]
    if server.name == "taplo":
        # Taplo offers the values of the table's keys too (12 `true`/`false`, as for a v1 table):
        # its value completion walks the same schemas as the role names inside the table.
        assert [label for label in offered if label not in {"true", "false"}] == [*modes, "{ }"]
    else:
        assert [label for label in offered if label not in TOMBI_QUOTE_HINTS] == [
            *modes,
            "{}",
            *ROLES,
        ]


BAD_VALUES = {
    ("taplo", '"sampeld"'): ['"sampeld" is not one of ["sampled","all"]'],
    ("taplo", "true"): ['true is not of types "object", "string"'],
    ("taplo", "{ assistant = 1 }"): ['1 is not of type "boolean"'],
    ("tombi", '"sampeld"'): ['the value must be one of ["sampled", "all"], but found "sampeld"'],
    ("tombi", "true"): [
        "expected a value of type String, but found Boolean",
        "expected a value of type Table, but found Boolean",
    ],
    ("tombi", "{ assistant = 1 }"): ["expected a value of type Boolean, but found Integer"],
}


@pytest.mark.parametrize("value", ['"sampeld"', "true", "{ assistant = 1 }"])
@pytest.mark.parametrize("version", MODE_VERSIONS)
def test_a_bad_value_is_reported_precisely(
    client: LspClient, server: Server, tmp_path: Path, version: int, value: str
) -> None:
    uri = _open(client, server, version, tmp_path / "bad.toml", f"[data]\nloss_mask = {value}\n")
    assert diagnostics(client, uri) == [(2, m) for m in BAD_VALUES[(server.name, value)]]
