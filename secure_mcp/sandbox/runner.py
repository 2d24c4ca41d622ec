"""The in-container runner, baked into the sandbox image at ``/opt/secure-mcp/runner.py``.

A container starts this script and waits: the interpreter is already loaded when a call arrives,
which is what makes a warm container fast. It reads exactly ONE request from stdin, framed as a
4-byte big-endian length followed by that many bytes of JSON, so the server never has to close
stdin to mark the end. Then stdin is replaced by ``/dev/null`` and the request runs:

- ``{"kind": "python", "source": CODE, "cwd": DIR}`` runs CODE in this interpreter as ``python3 -c``
  would (a fresh ``__main__``, the cwd first on ``sys.path``);
- ``{"kind": "shell", "source": COMMAND, "cwd": DIR}`` execs ``/bin/sh -c COMMAND``.

It uses the standard library only and must run on any Python 3.9+ in the image. It is not a
security boundary: the container is; a request it cannot read ends the container with 125.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import types

MAX_REQUEST_BYTES = 16 * 1024 * 1024
EXIT_BAD_REQUEST = 125


def _read_exact(size: int) -> bytes | None:
    """``size`` bytes from stdin, or None at end of input (the server went away)."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = os.read(0, size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
    return bytes(buffer)


def _read_request() -> dict[str, str] | None:
    header = _read_exact(4)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > MAX_REQUEST_BYTES:
        raise ValueError("request too large")
    body = _read_exact(size)
    if body is None:
        raise ValueError("request cut short")
    request = json.loads(body.decode("utf-8"))
    if not isinstance(request, dict) or request.get("kind") not in ("python", "shell"):
        raise ValueError("unknown request kind")
    if not isinstance(request.get("source"), str) or not isinstance(request.get("cwd"), str):
        raise ValueError("source and cwd must be strings")
    return request


def _run_python(source: str) -> int:
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    sys.argv = ["-c"]
    sys.path.insert(0, "")
    try:
        code = compile(source, "<string>", "exec")
    except SyntaxError as exc:
        traceback.print_exception(type(exc), exc, None)
        return 1
    try:
        exec(code, main.__dict__)  # noqa: S102 - running the caller's code is this container's only job
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - report like the interpreter would, minus this frame
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
        return 1
    return 0


def main() -> int:
    """Read one request and run it; the exit status is the code's or the command's."""
    try:
        request = _read_request()
    except (ValueError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"secure-mcp runner: bad request: {exc}\n")
        return EXIT_BAD_REQUEST
    if request is None:
        return 0
    # Files the code creates in the shared workspace stay writable for the workspace's group (the
    # server's side), as write_file's files are for the sandbox user.
    os.umask(0o002)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(request["cwd"])
    if request["kind"] == "shell":
        sys.stdout.flush()
        os.execv("/bin/sh", ["/bin/sh", "-c", request["source"]])  # noqa: S606 - the request is a shell command by design
    return _run_python(request["source"])


if __name__ == "__main__":
    sys.exit(main())
