"""A minimal LSP client over stdio (JSON-RPC with Content-Length framing), enough to ask a real
TOML language server what an editor would show: completions, hover text and diagnostics."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

TIMEOUT_S = 30.0


class LanguageServerError(RuntimeError):
    pass


class LspClient:
    """One server process. Answers the server's own requests (configuration, registrations)
    with `settings` or null, and keeps every notification it sends."""

    def __init__(
        self,
        command: Sequence[str],
        root: Path,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings or {}
        self.process = subprocess.Popen(
            list(command),
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self._next_id = 0
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self._messages.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length is not None:
                self._messages.put(json.loads(stream.read(length)))

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._write({"method": method, "params": params})

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            message = self._messages.get(timeout=timeout)
        except queue.Empty:
            raise LanguageServerError(f"no message from the server in {timeout} s") from None
        if message is None:
            raise LanguageServerError("the server closed its output")
        if "method" in message and "id" in message:  # a request from the server
            self._write({"id": message["id"], "result": self._answer(message)})
        elif "method" in message:
            self.notifications.append(message)
        return message

    def _answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            return [self.settings for _ in request["params"]["items"]]
        return None

    def request(self, method: str, params: Any, timeout: float = TIMEOUT_S) -> Any:
        self._next_id += 1
        request_id = self._next_id
        self._write({"id": request_id, "method": method, "params": params})
        while True:
            message = self._next(timeout)
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise LanguageServerError(f"{method}: {message['error']}")
                return message.get("result")

    def settled_request(
        self,
        method: str,
        params: Any,
        ready: Callable[[Any], bool] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> Any:
        """`request`, repeated until `ready(answer)` (default: the answer is not empty), or the
        last answer after `timeout`.

        A server reads the document's schema in the background after `didOpen`; until it has, it
        answers with nothing, or with only what it offers without a schema.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.request(method, params, timeout)
            settled = (
                ready(result) if ready is not None else result not in (None, [], {"items": []})
            )
            if settled or time.monotonic() > deadline:
                return result
            time.sleep(0.2)

    def diagnostics(self, uri: str, timeout: float = TIMEOUT_S) -> list[dict[str, Any]]:
        """The latest non-empty diagnostics published for `uri`, waiting for the first."""
        while True:
            found = [
                n["params"]["diagnostics"]
                for n in self.notifications
                if n["method"] == "textDocument/publishDiagnostics"
                and n["params"]["uri"] == uri
                and n["params"]["diagnostics"]
            ]
            if found:
                return found[-1]
            self._next(timeout)

    def notification(
        self, method: str, matches: Callable[[Any], bool], timeout: float = TIMEOUT_S
    ) -> Any:
        """The params of the first `method` notification that `matches`, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.notifications:
                if message["method"] == method and matches(message["params"]):
                    return message["params"]
            left = deadline - time.monotonic()
            if left <= 0:
                raise LanguageServerError(f"no matching {method} in {timeout} s")
            self._next(left)

    def initialize(self, root: Path, options: Any = None) -> dict[str, Any]:
        capabilities = {
            "textDocument": {
                "completion": {"completionItem": {"snippetSupport": True}},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "publishDiagnostics": {},
            },
            "workspace": {"configuration": True},
        }
        result: dict[str, Any] = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": capabilities,
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "toml", "version": 1, "text": text}},
        )
        return uri

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=5)
            self.notify("exit", None)
            self.process.wait(timeout=5)
        except (LanguageServerError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
