"""The approvers' secret and the signed tokens made from it.

Approvers are not agents: they never use a bearer token. The server and the ``secure-mcp
approvals`` CLI (another process, possibly another user session on the same machine) share one
random key in the state folder, created with mode 0600. From it come:

- sign-in links (purpose ``signin``): one-time (the server remembers the nonce), short-lived, naming
  the approver; opening one gives a browser session;
- CLI requests (purpose ``api``): signed per request, valid for a minute, naming the approver.

Anyone who can read the key file can approve: that is the same trust as the server's own user.
A key file readable by group or others is refused (fail closed), never silently used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from secure_mcp.errors import ConfigError

KEY_FILE = "approvals.key"
CONSOLE_FILE = "console.json"


def load_or_create_key(state_dir: Path, *, create: bool) -> bytes:
    """The approvers' key, created (0600, exclusively) when missing and ``create`` is true.

    Raises:
        ConfigError: the file is missing (and not created), unreadable, malformed, or open to others.
    """
    path = state_dir / KEY_FILE
    if create and not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: start `secure-mcp serve` once with this config") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the approvals key ({exc.strerror})") from None
    with os.fdopen(fd) as handle:
        info = os.fstat(handle.fileno())
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path} is readable by other users: run `chmod 600 {path}`")
        text = handle.read().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ConfigError(f"{path} is not an approvals key (64 hex characters); delete it to make a new one")
    return key


@dataclass(frozen=True, slots=True)
class Claims:
    purpose: str
    approver: str
    nonce: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, purpose: str, approver: str, ttl_s: float, now: float | None = None) -> str:
    """``payload.mac``: the payload names purpose, approver, nonce and expiry; the MAC covers it."""
    expires = (time.time() if now is None else now) + ttl_s
    payload = _b64(
        json.dumps({"p": purpose, "a": approver, "n": secrets.token_hex(12), "e": round(expires, 3)}).encode()
    )
    mac = hmac.new(key, f"secure-mcp-approvals:{payload}".encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify(key: bytes, token: str, purpose: str, now: float | None = None) -> Claims | None:
    """The claims of a genuine, unexpired token of this purpose; None for anything else."""
    try:
        payload, _, mac = token.partition(".")
        expected = hmac.new(key, f"secure-mcp-approvals:{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        data = json.loads(_unb64(payload))
        claims = Claims(purpose=str(data["p"]), approver=str(data["a"]), nonce=str(data["n"]), expires=float(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if claims.purpose != purpose or claims.expires < (time.time() if now is None else now):
        return None
    return claims
