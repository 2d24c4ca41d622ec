"""``secure-mcp serve``: run the server on stdio, SSE or streamable HTTP."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from functools import partial

import anyio

from secure_mcp import __version__, log_redaction, shutdown
from secure_mcp.approvals.serving import console_running
from secure_mcp.config import Config
from secure_mcp.errors import SecureMCPError
from secure_mcp.http.app import auth_kwargs, build_app, check_bind, resource_url
from secure_mcp.runtime import make_redactor, open_runtime

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MCP_PATH = "/mcp"
SSE_PATH = "/sse"
IMAGE_CHECK_S = 5.0
LISTEN_BACKLOG = 2048  # uvicorn's default
SANDBOXED_TOOLS = ("run_command", "execute_python")


class StartupError(SecureMCPError):
    """The server cannot start for a reason outside the config's content. One line; ``exit_code``.

    2: the audit log cannot be created or opened; 3: the address cannot be bound (port in use).
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def preflight(config: Config) -> None:
    """Fail before anything starts (no socket, no container) when the audit log cannot be written.

    Raises:
        StartupError: exit code 2, naming the path and the system's reason.
    """
    from secure_mcp.doctor import probe_audit_path

    problem = probe_audit_path(config.audit_path)
    if problem is not None:
        raise StartupError(f"audit log: {problem}; fix [audit] path or the folder's permissions", 2)


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening address, bound here so a taken port is one clear line, not uvicorn's text.

    Raises:
        StartupError: exit code 3 (address in use, not available on this machine, or not permitted).
    """
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on such sockets, and with
    # Nagle on every streamed response waited on delayed ACKs (tests/http/test_listen_socket.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bare, port))
        sock.listen(LISTEN_BACKLOG)  # listening at once: a second server binding meanwhile would succeed
    except OSError as exc:
        sock.close()
        why = {
            errno.EADDRINUSE: "the port is already in use (another secure-mcp? pick one with --port)",
            errno.EADDRNOTAVAIL: "the address is not one of this machine's",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
        }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise StartupError(f"cannot listen on {host}:{port}: {why}", 3) from None
    return sock


def start_line(config: Config, transport: str, url: str | None) -> str:
    """The one line ``serve`` prints to stderr once it is ready: where, with what, writing where."""
    sandboxed = any(getattr(config.tools, name).enabled for name in SANDBOXED_TOOLS)
    pool = f"{config.sandbox.warm_pool}" if sandboxed and config.sandbox.warm_pool else "off"
    where = f"{transport} on {url}" if url else transport
    return (
        f"secure-mcp {__version__}: serving {where}; config {config.source or 'built-in defaults'}; "
        f"workspace {config.workspace_root}; audit {config.audit_path}; warm pool {pool}"
    )


async def image_warning(config: Config) -> str | None:
    """A warning line when a sandboxed tool is enabled and its image (or the engine) is missing.

    Bounded: an engine that does not answer within ``IMAGE_CHECK_S`` is reported as such.
    """
    if not any(getattr(config.tools, name).enabled for name in SANDBOXED_TOOLS):
        return None
    from secure_mcp.sandbox import SandboxSettings
    from secure_mcp.sandbox.doctor import image_status

    settings = SandboxSettings.from_config(config.sandbox)
    check = None
    with anyio.move_on_after(IMAGE_CHECK_S):
        check = await anyio.to_thread.run_sync(image_status, settings, abandon_on_cancel=True)
    if check is None:
        return f"warning: the Docker engine did not answer within {IMAGE_CHECK_S:.0f} s; sandboxed calls may be refused"
    if check.ok:
        return None
    fix = f" (fix: {check.fix})" if check.fix else ""
    return f"warning: run_command and execute_python will be refused: {check.message}{fix}"


def announce(line: str | None) -> None:
    if line:
        print(line, file=sys.stderr, flush=True)


def configure_logging(config: Config) -> None:
    """Logs go to stderr only (on stdio, stdout is the protocol wire), redacted like every output."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redactor = make_redactor(config, os.environ)
    log_redaction.install(lambda text: redactor.redact(text).text)


async def serve_stdio(config: Config) -> None:
    warning = await image_warning(config)
    async with open_runtime(config, transport="stdio") as runtime:
        announce(start_line(config, "stdio", None))  # the start line first, then the console's lines
        announce(warning)
        async with console_running(config, runtime.desk):
            await runtime.server.run_stdio_async()


async def serve_http(config: Config, transport: str, host: str, port: int) -> None:
    import uvicorn

    check_bind(config, host)
    path = MCP_PATH if transport == "streamable-http" else SSE_PATH
    kwargs = auth_kwargs(config, host, port, path)
    sock = bind_socket(host, port)
    try:
        warning = await image_warning(config)
        async with open_runtime(config, transport=transport, server_kwargs=kwargs) as runtime:
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
            announce(start_line(config, transport, resource_url(host, port, path)))
            announce(warning)
            async with (
                console_running(config, runtime.desk),
                anyio.create_task_group() as group,  # SIGINT and SIGTERM alike: see shutdown.py
            ):
                streams, calls = app.state.session_policy, runtime.pipeline.recorder
                group.start_soon(
                    shutdown.stop_on_signals, server, partial(shutdown.drain, streams, lambda: calls.active_calls)
                )
                await server.serve(sockets=[sock])
                group.cancel_scope.cancel()
    finally:
        sock.close()


def serve(config: Config, transport: str, host: str | None, port: int | None) -> None:
    """Run until interrupted.

    Raises:
        ConfigError: before binding anything unsafe.
        StartupError: the audit log cannot be written, or the address cannot be bound.
    """
    configure_logging(config)
    preflight(config)
    if transport == "stdio":
        with shutdown.sigterm_as_sigint():
            anyio.run(serve_stdio, config)
    else:
        anyio.run(serve_http, config, transport, host or DEFAULT_HOST, port or DEFAULT_PORT)
