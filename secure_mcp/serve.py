"""``secure-mcp serve``: run the server on stdio, SSE or streamable HTTP."""

from __future__ import annotations

import logging
import os
import sys
from functools import partial

import anyio

from secure_mcp import log_redaction, shutdown
from secure_mcp.approvals.serving import console_running
from secure_mcp.config import Config
from secure_mcp.http.app import auth_kwargs, build_app, check_bind
from secure_mcp.runtime import make_redactor, open_runtime

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MCP_PATH = "/mcp"


def configure_logging(config: Config) -> None:
    """Logs go to stderr only (on stdio, stdout is the protocol wire), redacted like every output."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redactor = make_redactor(config, os.environ)
    log_redaction.install(lambda text: redactor.redact(text).text)


async def serve_stdio(config: Config) -> None:
    async with open_runtime(config, transport="stdio") as runtime, console_running(config, runtime.desk):
        await runtime.server.run_stdio_async()


async def serve_http(config: Config, transport: str, host: str, port: int) -> None:
    import uvicorn

    check_bind(config, host)
    kwargs = auth_kwargs(config, host, port, MCP_PATH if transport == "streamable-http" else "/sse")
    async with (
        open_runtime(config, transport=transport, server_kwargs=kwargs) as runtime,
        console_running(config, runtime.desk),
    ):
        app = build_app(runtime.server, config, transport, host, port, limits=runtime.limits)
        settings = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=shutdown.GRACE_S,
        )
        server = shutdown.QuietUvicorn(settings)
        async with anyio.create_task_group() as group:  # SIGINT and SIGTERM alike: see shutdown.py
            streams, calls = app.state.session_policy, runtime.pipeline.recorder
            group.start_soon(
                shutdown.stop_on_signals, server, partial(shutdown.drain, streams, lambda: calls.active_calls)
            )
            await server.serve()
            group.cancel_scope.cancel()


def serve(config: Config, transport: str, host: str | None, port: int | None) -> None:
    """Run until interrupted. Raises ``ConfigError`` before binding anything unsafe."""
    configure_logging(config)
    if transport == "stdio":
        with shutdown.sigterm_as_sigint():
            anyio.run(serve_stdio, config)
    else:
        anyio.run(serve_http, config, transport, host or DEFAULT_HOST, port or DEFAULT_PORT)
