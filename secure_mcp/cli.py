"""The command line: ``serve``, ``audit verify|show``, ``sandbox build``, ``doctor``, ``token create``, ``approvals``.

Exit codes (documented in the README): 0 done; 1 a check failed (``doctor``, ``audit verify``
tampered, ``sandbox build`` failed); 2 configuration error or the server cannot start (invalid config,
unsafe bind, audit log not writable) and usage errors; 3 the address cannot be bound (port in use);
130 interrupted. Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from secure_mcp import __version__
from secure_mcp.config import Config, load_config
from secure_mcp.errors import ConfigError, SecureMCPError


def _since(text: str) -> datetime:
    from secure_mcp.audit import parse_since

    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an ISO time nor an age like 15m, 2h or 7d") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secure-mcp", description="A security-first MCP server.")
    parser.add_argument("--version", action="version", version=f"secure-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the MCP server")
    serve.add_argument("--config", type=Path)
    serve.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    audit = commands.add_parser("audit", help="check or read the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="verify the hash chain (exit 0 intact, 1 tampered, 2 unreadable)")
    verify.add_argument("--config", type=Path)
    verify.add_argument("--log", type=Path)
    show = audit_commands.add_parser("show", help="print the log as a table, one line per call")
    show.add_argument("--config", type=Path)
    show.add_argument("--log", type=Path)
    show.add_argument("--follow", action="store_true")
    show.add_argument("--tool")
    show.add_argument("--decision", choices=["allow", "refuse"])
    show.add_argument("--since", type=_since, help="ISO time (2026-11-24T10:00) or an age (15m, 2h, 7d)")
    show.add_argument("--json", action="store_true")

    sandbox = commands.add_parser("sandbox", help="manage the sandbox image")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    build = sandbox_commands.add_parser("build", help="build or refresh the sandbox image")
    build.add_argument("--config", type=Path)
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--offline", action="store_true", help="build from Debian packages, no registry")
    mode.add_argument("--online", action="store_true", help="build from the Dockerfile only")
    build.add_argument(
        "--if-missing",
        action="store_true",
        help="build only when the image is missing or stale; without an engine, say how to get one (exit 0)",
    )

    doctor = commands.add_parser("doctor", help="check Docker, the image, the config and the audit path")
    doctor.add_argument("--config", type=Path)

    token = commands.add_parser("token", help="bearer tokens for the HTTP transports")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a new token once, and the config lines to add")
    create.add_argument("--name", required=True)
    create.add_argument("--tools", required=True, help="comma-separated tool names")

    approvals = commands.add_parser("approvals", help="decide pending calls out of band (the approval console)")
    approvals_commands = approvals.add_subparsers(dest="approvals_command", required=True)
    approvals_list = approvals_commands.add_parser("list", help="one pending call per line, its id first")
    approvals_list.add_argument("--config", type=Path)
    for verb in ("approve", "deny"):
        decide = approvals_commands.add_parser(verb, help=f"{verb} one pending call (shows the exact action)")
        decide.add_argument("id")
        decide.add_argument("--config", type=Path)
        decide.add_argument("--name", help="approver name (default: the first [approvals] approver, else you)")
    url = approvals_commands.add_parser("url", help="print a one-time sign-in link for the console")
    url.add_argument("--config", type=Path)
    url.add_argument("--name", help="approver name (default: the first [approvals] approver, else you)")
    return parser


def _audit_key(config: Config) -> bytes | None:
    from secure_mcp.audit import load_key

    key_file = config.resolve(config.audit.key_file) if config.audit.key_file else None
    return load_key(config.audit.key_env, key_file, os.environ)


def _run(args: argparse.Namespace) -> int:
    if args.command == "token":
        from secure_mcp.http.token_command import create_token

        return create_token(args.name, args.tools, sys.stdout)
    config = load_config(args.config)
    if args.command == "serve":
        from secure_mcp.serve import serve

        serve(config, args.transport, args.host, args.port)
        return 0
    if args.command == "audit":
        from secure_mcp.audit import show_command, verify_command

        path = args.log or config.audit_path
        if args.audit_command == "verify":
            return verify_command(path, _audit_key(config), sys.stdout)
        return show_command(
            path,
            follow=args.follow,
            tool=args.tool,
            decision=args.decision,
            since=args.since,
            as_json=args.json,
            out=sys.stdout,
            key=_audit_key(config),
        )
    if args.command == "sandbox":
        from secure_mcp.sandbox import SandboxSettings, build_image

        offline = True if args.offline else (False if args.online else None)
        settings = SandboxSettings.from_config(config.sandbox)
        if args.if_missing:
            from secure_mcp.sandbox.doctor import image_status

            status = image_status(settings)
            if status.ok:
                return 0
            if status.name == "docker":
                print(
                    f"sandbox: no image built: {status.message}. Install Docker (Debian: apt-get install docker.io), "
                    "start it, then run `make image` (or `.venv/bin/secure-mcp sandbox build`)",
                    file=sys.stdout,
                )
                return 0
            print(f"sandbox: {status.message}: building it now", file=sys.stdout, flush=True)
        return build_image(settings, offline=offline, out=sys.stdout)
    if args.command == "approvals":
        from secure_mcp.approvals import cli as approvals_cli

        if args.approvals_command == "list":
            return approvals_cli.list_command(config, sys.stdout, sys.stderr)
        if args.approvals_command == "url":
            return approvals_cli.url_command(config, args.name, sys.stdout)
        approve = args.approvals_command == "approve"
        return approvals_cli.decide_command(config, args.id, approve, args.name, sys.stdout, sys.stderr)
    if args.command == "doctor":
        from secure_mcp.doctor import run_doctor

        return run_doctor(config, sys.stdout)
    raise AssertionError(args.command)  # pragma: no cover - argparse requires a known command


def _reader_gone() -> int:
    """``secure-mcp ... | head``: the reader closed the pipe, which is how such a pipeline ends.

    Every command stops quietly (exit 0), not only ``audit show``. Standard output is pointed at
    /dev/null so the interpreter's last flush of what is still buffered does not raise again.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return 0  # not a file (a test's StringIO): nothing left to flush
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``secure-mcp`` and ``python -m secure_mcp``."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"secure-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    except SecureMCPError as exc:
        # StartupError (2 or 3), AuditError opening the log with a bad key, ...: one line, no traceback.
        what = "cannot start: " if args.command == "serve" else ""
        print(f"secure-mcp: {what}{getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
