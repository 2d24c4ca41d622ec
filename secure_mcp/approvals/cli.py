"""``secure-mcp approvals list | approve ID | deny ID | url``: deciding from a terminal.

The CLI is another process. It reads the approvers' key from the state folder (mode 0600) and
the running console's address from ``console.json`` next to it, then talks to that console on
loopback with a request signed for the purpose ``api`` (never with an agent's token). ``url``
needs no running server: it signs a one-time sign-in link itself. ``approve`` shows the exact
action it approves and sends its digest, so it cannot approve something else.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, TextIO

from secure_mcp.approvals.keys import CONSOLE_FILE, load_or_create_key, sign
from secure_mcp.approvals.serving import base_url, default_approver, signin_link, state_dir
from secure_mcp.config import Config
from secure_mcp.errors import ConfigError

API_TTL_S = 60.0
TIMEOUT_S = 10.0


class ConsoleUnavailable(Exception):
    """No console answers at the address the state folder names."""


def console_address(config: Config) -> str:
    """Where the running server's console listens (``console.json``), else the configured address."""
    try:
        data = json.loads((state_dir(config) / CONSOLE_FILE).read_text())
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            return str(data["url"])
    except (OSError, ValueError):
        pass
    return base_url(config.approvals.host, config.approvals.port)


def request(
    config: Config, method: str, path: str, approver: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """One signed API request to the console; (status, parsed JSON body).

    Raises:
        ConfigError: no approvals key in the state folder.
        ConsoleUnavailable: nothing answers.
    """
    key = load_or_create_key(state_dir(config), create=False)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(  # noqa: S310 - the URL is our own loopback console from the state file
        console_address(config) + path, data=data, method=method
    )
    req.add_header("x-secure-mcp-approver", sign(key, "api", approver, API_TTL_S))
    if data is not None:
        req.add_header("content-type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(req, timeout=TIMEOUT_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, {"error": error.reason}
    except (urllib.error.URLError, OSError) as error:
        raise ConsoleUnavailable(str(getattr(error, "reason", error))) from None


def _age(ts: float) -> str:
    seconds = max(0, int(time.time() - ts))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _first_line_of_action(question: str) -> str:
    _, _, action = question.partition("--- exact action ---\n")
    return (action or question).splitlines()[0] if (action or question) else ""


def list_command(config: Config, out: TextIO, err: TextIO) -> int:
    try:
        status, body = request(config, "GET", "/api/state", default_approver(config))
    except ConsoleUnavailable as exc:
        print(f"secure-mcp: no approval console at {console_address(config)} ({exc})", file=err)
        return 1
    if status != 200:
        print(f"secure-mcp: {body.get('error', status)}", file=err)
        return 1
    for item in body["pending"]:
        print(
            f"{item['id']}  {item['tool']:<14} {item['principal']:<20} {_age(item['created']):>7} ago  "
            f"{_first_line_of_action(item['question'])}",
            file=out,
        )
    if not body["pending"]:
        print("nothing is waiting for a decision", file=err)
    return 0


def decide_command(config: Config, decision_id: str, approve: bool, name: str | None, out: TextIO, err: TextIO) -> int:
    approver = name or default_approver(config)
    try:
        status, body = request(config, "GET", "/api/state", approver)
        if status != 200:
            print(f"secure-mcp: {body.get('error', status)}", file=err)
            return 1
        item = next((p for p in body["pending"] if p["id"] == decision_id), None)
        if item is None:
            print(f"secure-mcp: no pending call {decision_id} (see `secure-mcp approvals list`)", file=err)
            return 1
        print(item["question"], file=out)
        payload = {"id": decision_id, "digest": item["digest"], "decision": "approve" if approve else "deny"}
        status, body = request(config, "POST", "/api/decide", approver, payload)
    except ConsoleUnavailable as exc:
        print(f"secure-mcp: no approval console at {console_address(config)} ({exc})", file=err)
        return 1
    if status != 200:
        print(f"secure-mcp: {body.get('error', status)}", file=err)
        return 1
    print(f"{'approved' if approve else 'denied'} {decision_id} as {approver}", file=out)
    return 0


def url_command(config: Config, name: str | None, out: TextIO) -> int:
    approver = name or default_approver(config)
    if config.approvals.approvers and approver not in config.approvals.approvers:
        raise ConfigError(f"{approver!r} is not in [approvals] approvers")
    key = load_or_create_key(state_dir(config), create=False)
    base = config.approvals.public_url.rstrip("/") or console_address(config)
    print(signin_link(key, base, approver, config.approvals.link_ttl_s), file=out)
    return 0
