"""The in-container runner, baked into the sandbox image at ``/opt/secure-mcp/runner.py``.

A container starts this script and waits: the interpreter is already loaded when a call arrives,
which is what makes a warm container fast. It reads exactly ONE request from stdin, framed as a
4-byte big-endian length followed by that many bytes of JSON, so the server never has to close
stdin to mark the end. Then stdin is replaced by ``/dev/null`` and the request runs:

- ``{"kind": "python", "source": CODE, "cwd": DIR}`` runs CODE in this interpreter as ``python3 -c``
  would (a fresh ``__main__``, the cwd first on ``sys.path``);
- ``{"kind": "shell", "source": COMMAND, "cwd": DIR}`` runs ``/bin/sh -c COMMAND`` and waits for it.

When the request carries a ``nonce``, the runner ends each output stream with a trailer,
``\\0secure-mcp-end:<nonce>:<exit status>\\0``, once the code or command has finished: the server
then has the result at once instead of waiting for the container to be torn down (about 40 ms),
and a command that left processes running in the background no longer holds the call open. Code
that forged a trailer could only cut its own output short; the container is killed either way.

It uses the standard library only and must run on any Python 3.9+ in the image. It is not a
security boundary: the container is; a request it cannot read ends the container with 125.
"""

from __future__ import annotations

import json
import os
import sys
import threading
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
    if not isinstance(request.get("nonce", ""), str):
        raise ValueError("nonce must be a string")
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


def _python_status(source: str) -> int:
    """Exit status as ``python3 -c`` would give it, SystemExit included, after non-daemon threads end."""
    try:
        status = _run_python(source)
    except SystemExit as exc:
        if exc.code is None:
            status = 0
        elif isinstance(exc.code, int):
            status = exc.code & 0xFF
        else:
            sys.stderr.write(f"{exc.code}\n")
            status = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    return status


def _shell_status(command: str) -> int:
    """Run ``/bin/sh -c command`` as a child and return its status (128 + signal when killed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.execv("/bin/sh", ["/bin/sh", "-c", command])  # noqa: S606 - the request is a shell command by design
        finally:
            os._exit(127)
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def _trailer(nonce: str, status: int) -> None:
    """End both streams: flush what the code wrote, then one small atomic write per stream."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    mark = f"\0secure-mcp-end:{nonce}:{status}\0".encode("ascii")
    for fd in (1, 2):
        try:
            os.write(fd, mark)
        except OSError:
            pass


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
    nonce = request.get("nonce", "")
    request["nonce"] = ""  # not left lying around in a structure the code can easily reach
    if request["kind"] == "shell":
        status = _shell_status(request["source"])
    else:
        status = _python_status(request["source"])
    if nonce:
        _trailer(nonce, status)
    return status


if __name__ == "__main__":
    sys.exit(main())
