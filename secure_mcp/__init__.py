"""secure-mcp: an MCP server whose four powerful tools pass one fail-closed security pipeline."""

__version__ = "0.2.0"
__all__ = ["__version__"]
