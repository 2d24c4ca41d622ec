"""``secure-mcp token create``: a new bearer token, shown once, stored nowhere."""

from __future__ import annotations

import re
import sys
from typing import TextIO

from secure_mcp.http.tokens import hash_token, new_token

TOOL_NAMES = ("run_command", "write_file", "execute_python", "fetch_url")
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # fullmatch: "$" would admit a trailing newline


def create_token(name: str, tools: str, out: TextIO, err: TextIO | None = None) -> int:
    """Print the token and the ``[[auth.tokens]]`` table to paste into config.toml.

    Usage errors go to ``err`` (stderr by default) and print no token, so a script capturing
    stdout never mistakes an error message for a credential.
    """
    err = err if err is not None else sys.stderr
    chosen = [tool.strip() for tool in tools.split(",") if tool.strip()]
    unknown = sorted(set(chosen) - set(TOOL_NAMES))
    if not _NAME.fullmatch(name):
        err.write("error: --name must be 1-64 characters of letters, digits, _ . @ -\n")
        return 2
    if unknown or not chosen:
        err.write(f"error: --tools takes a comma-separated list of {', '.join(TOOL_NAMES)}; got {unknown or 'none'}\n")
        return 2
    token = new_token()
    listed = ", ".join(f'"{tool}"' for tool in dict.fromkeys(chosen))
    out.write(
        f"token (shown once; give it to the client as 'Authorization: Bearer <token>'):\n{token}\n\n"
        f'add to config.toml:\n[[auth.tokens]]\nname = "{name}"\nsha256 = "{hash_token(token)}"\n'
        f"tools = [{listed}]\n"
    )
    return 0
