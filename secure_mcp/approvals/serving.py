"""Starting the console next to any transport, and telling people and the CLI where it is.

The console gets its own loopback port ([approvals] host/port), separate from the MCP endpoint:
its own Host allow-list, no agent credentials, and it exists on stdio too. The bound address is
written to ``<state_dir>/console.json`` (so ``port = 0`` works and the CLI finds the server), and a
one-time sign-in link is printed on stderr. A console that cannot bind (the port is taken by
another server) is reported on stderr and the MCP server keeps running: its calls then cannot
be approved out of band, and fail closed (refused) as without a console.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio

from secure_mcp.approvals.console import ConsoleAuth, build_console
from secure_mcp.approvals.desk import ApprovalDesk
from secure_mcp.approvals.keys import CONSOLE_FILE, load_or_create_key, sign
from secure_mcp.config import Config
from secure_mcp.errors import ConfigError
from secure_mcp.http.app import is_loopback_host

logger = logging.getLogger(__name__)


def default_approver(config: Config) -> str:
    """The first configured approver, else the local user."""
    if config.approvals.approvers:
        return config.approvals.approvers[0]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def state_dir(config: Config) -> Path:
    """The approvals state folder; never inside the workspace, where an agent could read the key.

    Raises:
        ConfigError: ``state_dir`` is the workspace or inside it.
    """
    folder = config.resolve(config.approvals.state_dir).resolve()
    workspace = config.workspace_root.resolve()
    if folder == workspace or workspace in folder.parents:
        raise ConfigError(
            f"[approvals] state_dir {folder} is inside the workspace: an agent could read the approvers' key"
        )
    return folder


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def signin_link(key: bytes, base: str, approver: str, ttl_s: float) -> str:
    return f"{base.rstrip('/')}/signin?t={sign(key, 'signin', approver, ttl_s)}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _write_state(folder: Path, url: str) -> Path:
    path = folder / CONSOLE_FILE
    tmp = folder / f".{CONSOLE_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "pid": os.getpid()}, handle)
    os.replace(tmp, path)
    return path


def _remove_state(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


class _Server:
    """uvicorn without its signal handlers: the MCP transport owns SIGINT/SIGTERM."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        settings = uvicorn.Config(
            app, log_level="warning", access_log=False, log_config=None, timeout_graceful_shutdown=1
        )
        self.server = Quiet(settings)


@asynccontextmanager
async def console_running(
    config: Config, desk: ApprovalDesk | None, out: TextIO | None = None
) -> AsyncIterator[str | None]:
    """Serve the console while the block runs; yields its URL, or None when disabled or not bound."""
    out = out if out is not None else sys.stderr
    settings = config.approvals
    if desk is None or not settings.enabled:
        yield None
        return
    if not is_loopback_host(settings.host) and not settings.public_url.startswith("https://"):
        raise ConfigError(
            f"refusing to serve the approval console on {settings.host}: off loopback it needs a TLS proxy in "
            'front and [approvals] public_url = "https://..." (the session cookie is then Secure)'
        )
    folder = state_dir(config)
    key = load_or_create_key(folder, create=True)
    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        print(
            f"secure-mcp: approval console not started: cannot bind {settings.host}:{settings.port} "
            f"({exc.strerror}); calls that need a yes can only be confirmed through elicitation",
            file=out,
            flush=True,
        )
        yield None
        return
    port = sock.getsockname()[1]
    url = base_url(settings.host, port)
    auth = ConsoleAuth(key, settings.approvers, settings.session_ttl_s)
    app = build_console(desk, auth, settings.host, port, settings.public_url)
    server = _Server(app).server
    state_file = _write_state(folder, url)
    shown = settings.public_url.rstrip("/") or url
    link = signin_link(key, shown, default_approver(config), settings.link_ttl_s)
    print(
        f"secure-mcp: approval console at {shown}/\n"
        f"secure-mcp: sign in (one-time link, {settings.link_ttl_s // 60} min): {link}\n"
        f"secure-mcp: a new link any time: secure-mcp approvals url"
        + (f" --config {config.source}" if config.source else ""),
        file=out,
        flush=True,
    )
    done = anyio.Event()

    async def run() -> None:
        try:
            await server.serve([sock])
        finally:
            done.set()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            desk.serving(url)
            try:
                yield url
            finally:
                desk.serving(None)
                server.should_exit = True
                with anyio.move_on_after(2, shield=True):
                    await done.wait()
                group.cancel_scope.cancel()
    finally:
        sock.close()
        _remove_state(state_file)
