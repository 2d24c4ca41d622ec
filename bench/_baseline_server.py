"""The unguarded baseline for the load bench: the SDK's ``MCPServer`` over streamable HTTP on loopback.

``python bench/_baseline_server.py PORT WORKSPACE``. One tool, ``write_file``, doing exactly the
work secure-mcp's ``write_file`` does (the same ``secure_mcp.workspace_fs.write_file``: exclusive
create, fsync, link) with no auth, limits, sanitize, validate policy, confirm, redaction or audit.
Served by uvicorn with the same settings ``secure-mcp serve`` uses.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath
from typing import Any

import anyio.to_thread
import uvicorn
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from secure_mcp.workspace_fs import write_file as fs_write


class WriteResult(BaseModel):
    path: str
    bytes_written: int
    created: bool
    sha256: str


def build(workspace: Path) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("baseline", log_level="WARNING")

    @server.tool(name="write_file")
    async def write_file(path: str, content: str, mode: str = "create") -> WriteResult:
        """Write a file in the workspace (unguarded baseline)."""
        outcome = await anyio.to_thread.run_sync(fs_write, workspace, PurePosixPath(path), content.encode(), "create")
        return WriteResult(
            path=outcome.path, bytes_written=outcome.bytes_written, created=outcome.created, sha256=outcome.sha256
        )

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return server


def main() -> None:
    port, workspace = int(sys.argv[1]), Path(sys.argv[2])
    app = build(workspace).streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, log_config=None)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
