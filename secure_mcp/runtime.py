"""Assembles a running server from a ``Config``: redactor, audit log, sandbox, pipeline, MCP server.

Start-up fails closed: an unwritable audit log or a bad key stops the server before it takes a
call. A missing Docker engine does not stop it (fetch_url and write_file still work); sandboxed
calls are then refused by the sandbox stage with the fix.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from secure_mcp import __version__
from secure_mcp.approvals.desk import ApprovalDesk, policy_version
from secure_mcp.config import Config
from secure_mcp.pipeline import Pipeline, build_pipeline
from secure_mcp.recorder import AuditSink, Recorder
from secure_mcp.redaction import Redactor
from secure_mcp.server import SecureServer, ServerOptions
from secure_mcp.stages.limits import LimitsGuard
from secure_mcp.toolkit import ToolEnv, ToolSpec
from secure_mcp.tools import all_tools
from secure_mcp.workspace_share import prepare_workspace

if TYPE_CHECKING:
    # Imported when used: the audit writer and the Docker client are not needed to build a server
    # for tests, and ``secure-mcp --help`` should not pay for them.
    from secure_mcp.audit import AuditLog
    from secure_mcp.fetch.resolver import Resolver
    from secure_mcp.sandbox import Sandbox

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything one server instance holds while it runs."""

    config: Config
    server: SecureServer
    pipeline: Pipeline
    instance_id: str
    limits: LimitsGuard
    desk: ApprovalDesk | None = None


def make_redactor(config: Config, environ: Mapping[str, str]) -> Redactor:
    return Redactor(
        extra_patterns=config.redaction.extra_patterns,
        disabled_kinds=config.redaction.disabled_kinds,
        allowlist=config.redaction.allowlist,
        environ=environ,
    )


def enabled_tools(config: Config) -> dict[str, ToolSpec]:
    """The tools whose ``[tools.NAME] enabled`` is true; a disabled tool is not even listed."""
    return {name: spec for name, spec in all_tools().items() if getattr(config.tools, name).enabled}


async def _open_audit(config: Config) -> AuditLog:
    from secure_mcp.audit import AuditLog, load_key

    key = load_key(
        config.audit.key_env, config.resolve(config.audit.key_file) if config.audit.key_file else None, os.environ
    )
    log = AuditLog(config.audit_path, key=key, max_bytes=config.audit.max_bytes, fsync=config.audit.fsync)
    await log.open()
    return log


def _make_sandbox(config: Config, instance_id: str, workspace_gid: int) -> Sandbox:
    from secure_mcp.config import parse_size
    from secure_mcp.sandbox import Sandbox, SandboxSettings

    effects = config.tools.run_command.effects
    settings = SandboxSettings.from_config(
        config.sandbox,
        python_workspace=config.tools.execute_python.workspace,
        workspace_gid=workspace_gid,
        layer_root=config.resolve(effects.state_dir) / "layers",
        layer_bytes=parse_size(effects.max_bytes),
    )
    return Sandbox(settings, config.workspace_root, instance_id=instance_id)


@asynccontextmanager
async def open_runtime(
    config: Config,
    *,
    transport: str,
    server_kwargs: ServerOptions | None = None,
    audit_sink: AuditSink | None = None,
    sandbox: Sandbox | None | Literal["default"] = "default",
    environ: Mapping[str, str] | None = None,
    tools: Mapping[str, ToolSpec] | None = None,
    limits: LimitsGuard | None = None,
    fetch_resolver: Resolver | None = None,
    fetch_ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Runtime]:
    """Open every resource, write ``server_start``, yield; on exit close them and write ``server_stop``.

    Tests pass ``audit_sink`` (e.g. ``MemoryAuditSink``), ``sandbox=None`` or their own, ``tools``,
    ``limits`` (a ``LimitsGuard`` on a fake clock), and for fetch_url a resolver pointing at a
    loopback fixture and an SSL context trusting its CA.
    ``server_kwargs`` go to the SDK's ``MCPServer`` unchanged (auth settings on HTTP).
    """
    instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    redactor = make_redactor(config, os.environ if environ is None else environ)
    workspace_gid = prepare_workspace(config.workspace_root)
    opened: AuditLog | None = None
    sink: AuditSink
    if audit_sink is None:
        opened = sink = await _open_audit(config)
    else:
        sink = audit_sink
    box = _make_sandbox(config, instance_id, workspace_gid) if sandbox == "default" else sandbox
    try:
        if box is not None:
            await box.start()
        env = ToolEnv(
            config=config,
            workspace=config.workspace_root,
            sandbox=box,
            redact_text=lambda text: redactor.redact(text).text,
            fetch_resolver=fetch_resolver,
            fetch_ssl_context=fetch_ssl_context,
        )
        recorder = Recorder(sink, redactor)
        chosen = enabled_tools(config) if tools is None else tools
        desk = ApprovalDesk(policy_version(config), public_url=config.approvals.public_url)
        limits = limits or LimitsGuard(config.limits)
        pipeline = build_pipeline(config, chosen, env, recorder, redactor, limits, desk=desk)
        server = SecureServer(pipeline, transport=transport, name=config.server.name, **(server_kwargs or {}))
        await recorder.write(
            {
                "event": "server_start",
                "instance": instance_id,
                "pid": os.getpid(),
                "transport": transport,
                "version": __version__,
                "tools": sorted(pipeline.tools),
            }
        )
        try:
            yield Runtime(
                config=config, server=server, pipeline=pipeline, instance_id=instance_id, limits=limits, desk=desk
            )
        finally:
            try:
                await recorder.write({"event": "server_stop", "instance": instance_id, "pid": os.getpid()})
            except Exception:
                logger.error("could not record server_stop")
    finally:
        if box is not None:
            await box.close()
        if opened is not None:  # a sink the caller passed in is the caller's to close
            await opened.close()
