"""Package discovery with one mapping: the top-level ``tools/`` folder installs as ``secure_mcp.tools``.

Everything else lives in pyproject.toml. This file exists only because pyproject's static
``[tool.setuptools]`` table cannot combine "find the packages" with a package-dir mapping for a
subpackage that lives outside its parent's folder: here both are found, none is listed by hand, and
a new subpackage of either folder is picked up without an edit. Never a bare top-level ``tools``.
"""

from setuptools import find_namespace_packages, setup

_SKIP = ["*.__pycache__", "*.__pycache__.*"]
_OWN = find_namespace_packages(include=["secure_mcp", "secure_mcp.*"], exclude=_SKIP)
_TOOLS = find_namespace_packages(include=["tools", "tools.*"], exclude=_SKIP)

setup(
    packages=[*_OWN, *(f"secure_mcp.{name}" for name in _TOOLS)],
    package_dir={"secure_mcp.tools": "tools"},
)
