"""The request path stays readable (issue 13): no function of the client core is longer than a
screen or nested deeper than four blocks (`_execute` was 118 lines, six levels deep)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pipelines.soracom

MAX_LINES = 45
MAX_DEPTH = 4
BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _depth(node: ast.AST, level: int = 0) -> int:
    deepest = level
    for child in ast.iter_child_nodes(node):
        if isinstance(child, FUNCTIONS):
            continue  # a nested function is measured on its own
        deepest = max(deepest, _depth(child, level + isinstance(child, BLOCKS)))
    return deepest


@pytest.mark.parametrize("module", ["client.py", "retry.py", "first_contact.py", "auth.py"])
def test_client_functions_are_short_and_shallow(module: str) -> None:
    path = Path(pipelines.soracom.__file__).parent / module
    tree = ast.parse(path.read_text())
    too_long = []
    for node in ast.walk(tree):
        if isinstance(node, FUNCTIONS):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES or _depth(node) > MAX_DEPTH:
                too_long.append(f"{node.name}: {lines} lines, {_depth(node)} levels")
    assert not too_long, f"{module}: split these: {too_long}"
