"""The import statements of a source file, parsed once per test run.

The architecture test (import direction) and the packaging test (declared dependencies) both read
every module's imports; parsing the tree twice cost a third of a second of the fast layer.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ImportNode = ast.Import | ast.ImportFrom


@cache
def import_statements(path: Path) -> tuple[ImportNode, ...]:
    """Every import anywhere in the file: top level, inside functions and under ``TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return tuple(node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom))
