"""The in-container runner, baked into the sandbox image at ``/opt/secure-mcp/runner.py``.

A container starts this script and waits: the interpreter is already loaded when a call arrives,
which is what makes a warm container fast. It reads exactly ONE request from stdin, framed as a
4-byte big-endian length followed by that many bytes of JSON, so the server never has to close
stdin to mark the end. Then stdin is replaced by ``/dev/null`` and the request runs:

- ``{"kind": "python", "source": CODE, "cwd": DIR}`` runs CODE in this interpreter as ``python3 -c``
  would (a fresh ``__main__``, the cwd first on ``sys.path``);
- ``{"kind": "shell", "source": COMMAND, "cwd": DIR, "approved": [NAME, ...]}`` runs
  ``bash --noprofile --norc -c COMMAND`` with no start-up files (``BASH_ENV``, ``ENV``,
  ``POSIXLY_CORRECT``, ``SHELLOPTS``, ``BASHOPTS`` and exported functions removed) under the tracer
  (``tracer.py``, next to this file): a program outside the approved names is stopped before it runs
  and the whole call is killed. ``"exec_mode"`` is ``"enforce"`` (the default; a shell request
  without ``approved`` is refused), ``"report"`` (stop nothing, report every exec: the differential
  test) or ``"off"`` (no tracer: benchmarks only).

When the request carries a ``nonce``, the runner ends each output stream with a trailer,
``\\0secure-mcp-end:<nonce>:<exit status>\\0``, once the code or command has finished: the server
then has the result at once instead of waiting for the container to be torn down (about 40 ms),
and a command that left processes running in the background no longer holds the call open. Code
that forged a trailer could only cut its own output short; the container is killed either way.
On stderr the status may be followed by ``:<base64 JSON>``, what the tracer found:
``{"blocked": {"program": PATH, "argv": [...]}}``, ``{"execs": [[PATH, ARG0, ...], ...]}`` (report
mode) or ``{"error": TEXT}`` (the tracer failed or the request was refused; nothing more ran).

It uses the standard library only and must run on any Python 3.9+ in the image. The container is
the boundary towards the host; the tracer is the boundary between the policy's verdicts and what
runs. A request it cannot read ends the container with 125.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import threading
import traceback
import types

MAX_REQUEST_BYTES = 16 * 1024 * 1024
EXIT_BAD_REQUEST = 125
EXEC_MODES = ("enforce", "report", "off")
#: Variables that would make bash read a file, change its grammar or import functions at start-up.
UNSAFE_ENV = ("BASH_ENV", "ENV", "POSIXLY_CORRECT", "SHELLOPTS", "BASHOPTS", "CDPATH", "GLOBIGNORE")


def _read_exact(size: int) -> bytes | None:
    """``size`` bytes from stdin, or None at end of input (the server went away)."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = os.read(0, size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
    return bytes(buffer)


def _read_request() -> dict[str, object] | None:
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
    approved = request.get("approved")
    if approved is not None and not (isinstance(approved, list) and all(isinstance(a, str) for a in approved)):
        raise ValueError("approved must be a list of strings")
    if request.get("exec_mode", "enforce") not in EXEC_MODES:
        raise ValueError("unknown exec_mode")
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


def _load_tracer() -> types.ModuleType:
    """``tracer.py`` from this file's folder (``python3 -I`` does not put that folder on sys.path)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tracer.py")
    spec = importlib.util.spec_from_file_location("secure_mcp_sandbox_tracer", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def bash_environment(environ: dict[str, str]) -> dict[str, str]:
    """The container's environment without what would make bash run or read anything at start-up."""
    return {
        key: value
        for key, value in environ.items()
        if key not in UNSAFE_ENV and not key.startswith("BASH_FUNC_")
    }


def _preload_tracer() -> types.ModuleType | str:
    """The tracer module, loaded while the container waits (ctypes costs tens of ms); or why not."""
    try:
        return _load_tracer()
    except Exception as exc:  # noqa: BLE001 - reported when a shell request needs it
        return f"cannot load the exec tracer: {exc}"


def _shell_status(
    request: dict[str, object], tracer: types.ModuleType | str | None = None
) -> tuple[int, dict[str, object] | None]:
    """Run the command with bash (traced unless ``exec_mode`` is ``off``): status and tracer findings.

    Fails closed: no approved list in enforce mode, or a tracer that cannot work, runs nothing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    mode = request.get("exec_mode", "enforce")
    approved = request.get("approved")
    if mode == "enforce" and not isinstance(approved, list):
        return EXIT_BAD_REQUEST, {"error": "a shell request without an approved set is not run"}
    argv = ["bash", "--noprofile", "--norc", "-c", str(request["source"])]
    env = bash_environment(dict(os.environ))
    try:
        if tracer is None:
            tracer = _load_tracer()
        if isinstance(tracer, str):
            raise RuntimeError(tracer)
        if mode == "off":
            return tracer.run_untraced(argv, env), None
        allowed = tracer.resolve_approved(approved or [], os.getcwd(), env.get("PATH", tracer.DEFAULT_PATH))
        outcome = tracer.run_traced(argv, env, allowed if mode == "enforce" else None)
    except Exception as exc:  # noqa: BLE001 - any tracer failure refuses the call
        return EXIT_BAD_REQUEST, {"error": f"exec tracer failed: {exc}"}
    if outcome.blocked is not None:
        return outcome.status, {"blocked": outcome.blocked}
    if mode == "report":
        return outcome.status, {"execs": outcome.execs}
    return outcome.status, None


def _trailer(nonce: str, status: int, meta: dict[str, object] | None = None) -> None:
    """End both streams: flush what the code wrote, then the trailer (with the tracer's findings on stderr)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    mark = f"\0secure-mcp-end:{nonce}:{status}".encode("ascii")
    extra = b":" + base64.b64encode(json.dumps(meta).encode("utf-8")) if meta else b""
    for fd, tail in ((1, b"\0"), (2, extra + b"\0")):
        data = mark + tail
        while data:
            try:
                data = data[os.write(fd, data) :]
            except InterruptedError:
                continue
            except OSError:
                break


def main() -> int:
    """Read one request and run it; the exit status is the code's or the command's."""
    tracer = _preload_tracer()
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
    os.chdir(str(request["cwd"]))
    nonce = str(request.get("nonce", ""))
    request["nonce"] = ""  # not left lying around in a structure the code can easily reach
    meta: dict[str, object] | None = None
    if request["kind"] == "shell":
        status, meta = _shell_status(request, tracer)
        if meta is not None and "error" in meta:
            sys.stderr.write(f"secure-mcp runner: {meta['error']}\n")
    else:
        status = _python_status(str(request["source"]))
    if nonce:
        _trailer(nonce, status, meta)
    return status


if __name__ == "__main__":
    sys.exit(main())
