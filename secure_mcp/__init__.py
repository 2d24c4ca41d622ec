"""secure-mcp: an MCP server whose four powerful tools pass one fail-closed security pipeline."""

__version__ = "0.1.0"
__all__ = ["__version__"]
