"""The four tools. Each module: argument and result models, annotations, own policy, work."""

from __future__ import annotations

from secure_mcp.toolkit import ToolSpec


def all_tools() -> dict[str, ToolSpec]:
    """Every tool, by its fixed MCP name."""
    from . import execute_python, fetch_url, run_command, write_file

    specs = (run_command.SPEC, write_file.SPEC, execute_python.SPEC, fetch_url.SPEC)
    return {spec.name: spec for spec in specs}


__all__ = ["all_tools"]
