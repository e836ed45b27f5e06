"""Launches written as Python argument lists: `subprocess.run(["uv", "run", "sft", "@", "a.toml"])`.

A list or tuple is a launch when it holds `"@"` (or `"@a.toml"`) after at least one word that
names what runs (a bare `["@", path]` is an in-process parser's arguments, not a launch). Its
elements are read without running anything: string literals, f-strings, `+`, `Path(...) / ...`,
`os.path.join`, `.as_posix()`, `str()`, names the module assigns (every assignment of the name in
the file must give the same text), and `Path(__file__).parent` (the file's own directory). Any
other expression is an `Unknown` piece naming it. A `cwd=` keyword of the call that runs the list
is the directory the launch starts in. Comments are not code, so a commented-out launch is none.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence

from lossmask.config_files.launches import LaunchLine, launch_in_words
from lossmask.config_files.words import HOLDER, Piece, Unknown, Word, merge_pieces

_PASS_THROUGH = {"str", "Path", "PurePath", "PurePosixPath", "fspath", "as_posix"}


_Scope = dict[str, list[ast.expr | None]]  # name -> every value assigned (None: not a text)


def _scope_of(body: ast.AST) -> _Scope:
    """The names a module or function assigns itself (nested functions and classes keep theirs;
    a parameter or loop variable is None: its value comes from elsewhere)."""
    found: _Scope = {}

    def record(target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            found.setdefault(target.id, []).append(value)
        elif isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            for element in getattr(target, "elts", [getattr(target, "value", None)]):
                if element is not None:
                    record(element, None)

    if isinstance(body, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = body.args
        for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            found.setdefault(argument.arg, []).append(None)
        for extra in (arguments.vararg, arguments.kwarg):
            if extra is not None:
                found.setdefault(extra.arg, []).append(None)
    pending = list(ast.iter_child_nodes(body))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                found.setdefault(node.name, []).append(None)
            continue
        if isinstance(node, ast.Assign):
            for target in node.targets:
                record(target, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            record(node.target, node.value if isinstance(node, ast.AnnAssign) else None)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            record(node.target, None)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    record(item.optional_vars, None)
        elif isinstance(node, ast.NamedExpr):
            record(node.target, node.value)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.setdefault((alias.asname or alias.name).split(".")[0], []).append(None)
        pending.extend(ast.iter_child_nodes(node))
    return found


class _Evaluator:
    """Texts of expressions, looking names up as Python would: the innermost enclosing
    function that assigns the name, else the module."""

    def __init__(self, scopes: list[_Scope], file_name: str) -> None:
        self.scopes = scopes  # innermost first, the module last
        self.file_name = file_name
        self.resolving: set[str] = set()

    def name(self, name: str) -> list[Piece]:
        if name == "__file__":
            return [HOLDER, "/" + self.file_name]
        values = next((scope[name] for scope in self.scopes if name in scope), None)
        if not values or any(value is None for value in values) or name in self.resolving:
            return [Unknown(f"`{name}` is not a text this file spells out")]
        self.resolving.add(name)
        try:
            found = {merge_pieces(self.pieces(value)) for value in values if value is not None}
        finally:
            self.resolving.discard(name)
        if len(found) == 1:
            return list(found.pop())
        return [Unknown(f"`{name}` is assigned different values in this file")]

    def pieces(self, node: ast.expr) -> list[Piece]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            pieces: list[Piece] = []
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and part.format_spec is None:
                    pieces.extend(self.pieces(part.value))
                elif isinstance(part, ast.Constant) and isinstance(part.value, str):
                    pieces.append(part.value)
                else:
                    pieces.append(self.unknown(part))
            return pieces
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Div)):
            between = ["/"] if isinstance(node.op, ast.Div) else []
            return [*self.pieces(node.left), *between, *self.pieces(node.right)]
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return [*self.pieces(node.value), "/.."]
        if isinstance(node, ast.Call):
            return self.call(node)
        return [self.unknown(node)]

    def call(self, node: ast.Call) -> list[Piece]:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if node.keywords:
            return [self.unknown(node)]
        methods = ("as_posix", "resolve", "absolute")
        if isinstance(function, ast.Attribute) and name in methods and not node.args:
            return self.pieces(function.value)
        if name in _PASS_THROUGH and len(node.args) == 1:
            return self.pieces(node.args[0])
        if name == "join" and _dotted(function) in ("os.path.join", "path.join") and node.args:
            joined: list[Piece] = []
            for index, argument in enumerate(node.args):
                joined.extend([*(["/"] if index else []), *self.pieces(argument)])
            return joined
        if name in ("dirname", "abspath", "realpath") and len(node.args) == 1:
            inner = self.pieces(node.args[0])
            return [*inner, "/.."] if name == "dirname" else inner
        return [self.unknown(node)]

    def unknown(self, node: ast.AST) -> Unknown:
        text = ast.unparse(node)
        short = text if len(text) <= 60 else text[:57] + "..."
        return Unknown(f"the Python expression `{short}`, computed when it runs")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return getattr(node, "id", "")


def python_launches(text: str, file: str, first_line: int = 1) -> list[LaunchLine]:
    """Every argument-list launch in a Python text; a text that does not parse holds none."""
    if "@" not in text:
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    name = os.path.basename(file)
    module = _scope_of(tree)
    directories: dict[int, ast.expr] = {}
    found: list[LaunchLine] = []
    # (node, the scopes around it, innermost first)
    pending: list[tuple[ast.AST, list[_Scope]]] = [(tree, [module])]
    while pending:
        node, scopes = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            scopes = [_scope_of(node), *scopes]
        if isinstance(node, ast.Call) and node.args:
            for keyword in node.keywords:
                if keyword.arg == "cwd":
                    directories[id(node.args[0])] = keyword.value
        if isinstance(node, (ast.List, ast.Tuple)) and _has_at(node.elts):
            evaluator = _Evaluator(scopes, name)
            words = [_word(evaluator, element) for element in node.elts]
            if _names_a_program(words):
                cwd = directories.get(id(node))
                directory = _word(evaluator, cwd) if cwd is not None else None
                launch = launch_in_words(words, file, node.lineno + first_line - 1, directory)
                if launch is not None:
                    found.append(launch)
        # A call is met before its arguments, so its `cwd=` is known when its list is read.
        pending.extend((child, scopes) for child in reversed(list(ast.iter_child_nodes(node))))
    return sorted(found, key=lambda launch: launch.line)


def _has_at(elements: Sequence[ast.expr]) -> bool:
    return any(
        isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value.startswith("@")
        for e in elements
    )


def _names_a_program(words: Sequence[Word]) -> bool:
    for word in words:
        text = word.text
        if text is not None and text.startswith("@"):
            return False
        if text:
            return True
    return False


def _word(evaluator: _Evaluator, node: ast.expr) -> Word:
    if isinstance(node, ast.Starred):
        return Word((evaluator.unknown(node),), ast.unparse(node))
    return Word(merge_pieces(evaluator.pieces(node)), ast.unparse(node))
