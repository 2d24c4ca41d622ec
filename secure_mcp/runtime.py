"""Assembles a running server from a ``Config``: redactor, audit log, sandbox, pipeline, MCP server.

Start-up fails closed: an unwritable audit log or a bad key stops the server before it takes a
call. A missing Docker engine does not stop it (fetch_url and write_file still work); sandboxed
calls are then refused by the sandbox stage with the fix.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from secure_mcp import __version__
from secure_mcp.config import Config
from secure_mcp.pipeline import Pipeline, build_pipeline
from secure_mcp.recorder import AuditSink, Recorder
from secure_mcp.redaction import Redactor
from secure_mcp.server import SecureServer
from secure_mcp.toolkit import ToolEnv, ToolSpec
from secure_mcp.tools import all_tools
from secure_mcp.workspace_share import prepare_workspace

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything one server instance holds while it runs."""

    config: Config
    server: SecureServer
    pipeline: Pipeline
    instance_id: str


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


async def _open_audit(config: Config) -> Any:
    from secure_mcp.audit import AuditLog, load_key

    key = load_key(
        config.audit.key_env, config.resolve(config.audit.key_file) if config.audit.key_file else None, os.environ
    )
    log = AuditLog(config.audit_path, key=key, max_bytes=config.audit.max_bytes, fsync=config.audit.fsync)
    await log.open()
    return log


def _make_sandbox(config: Config, instance_id: str, workspace_gid: int) -> Any:
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
    server_kwargs: Mapping[str, Any] | None = None,
    audit_sink: AuditSink | None = None,
    sandbox: Any = "default",
    environ: Mapping[str, str] | None = None,
    extras: Mapping[str, Any] | None = None,
    tools: Mapping[str, ToolSpec] | None = None,
) -> AsyncIterator[Runtime]:
    """Open every resource, write ``server_start``, yield; on exit close them and write ``server_stop``.

    Tests pass ``audit_sink`` (e.g. ``MemoryAuditSink``), ``sandbox=None`` or a fake, and ``tools``.
    """
    instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    redactor = make_redactor(config, os.environ if environ is None else environ)
    workspace_gid = prepare_workspace(config.workspace_root)
    sink = audit_sink if audit_sink is not None else await _open_audit(config)
    box = _make_sandbox(config, instance_id, workspace_gid) if sandbox == "default" else sandbox
    try:
        if box is not None:
            await box.start()
        env = ToolEnv(
            config=config,
            workspace=config.workspace_root,
            sandbox=box,
            redact_text=lambda text: redactor.redact(text).text,
            extras=dict(extras or {}),
        )
        recorder = Recorder(sink, redactor)
        chosen = enabled_tools(config) if tools is None else tools
        pipeline = build_pipeline(config, chosen, env, recorder, redactor)
        server = SecureServer(pipeline, transport=transport, name=config.server.name, **dict(server_kwargs or {}))
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
            yield Runtime(config=config, server=server, pipeline=pipeline, instance_id=instance_id)
        finally:
            try:
                await recorder.write({"event": "server_stop", "instance": instance_id, "pid": os.getpid()})
            except Exception:
                logger.error("could not record server_stop")
    finally:
        if box is not None:
            await box.close()
        close = getattr(sink, "close", None)
        if close is not None:
            await close()
