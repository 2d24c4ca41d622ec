"""The exec tracer's pieces without Docker: seccomp filter, name resolution, wire format, refusals."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from secure_mcp.call import Plan
from secure_mcp.config import Config
from secure_mcp.errors import Denied, SandboxError
from secure_mcp.models import ProcessResult
from secure_mcp.sandbox import BlockedExec, SandboxRequest, SandboxResult, runner, tracer
from secure_mcp.sandbox.io import STDERR, STDOUT, OutputCapture, _Trailer, encode_request
from secure_mcp.sandbox.service import _tracer_fields
from secure_mcp.tools._sandboxed import run_in_sandbox
from secure_mcp.tools.run_command import _Prepared, approved_programs
from tests.support import make_config

X86_64, AARCH64, I386 = 0xC000003E, 0xC00000B7, 0x40000003
ALLOW, KILL, EPERM, ENOSYS = 0x7FFF0000, 0x80000000, 0x00050001, 0x00050026


def _run_bpf(program: list[tuple[int, int, int, int]], arch: int, nr: int, flags: int) -> int:
    """A tiny interpreter for the instructions the filter uses, over one ``seccomp_data``."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, flags, 0, 0, 0, 0, 0)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == 0x06:
            return k
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_seccomp_filter_refuses_untraced_clones_and_foreign_abis(machine: str) -> None:
    program = tracer.seccomp_program(machine)
    arch, clone = (X86_64, 56) if machine == "x86_64" else (AARCH64, 220)
    assert _run_bpf(program, arch, clone, 0x01200011) == ALLOW  # what fork() passes
    assert _run_bpf(program, arch, clone, 0x00004111) == ALLOW  # vfork-style clone
    assert _run_bpf(program, arch, clone, 0x00800000 | 17) == EPERM
    assert _run_bpf(program, arch, 435, 0) == ENOSYS  # clone3: libc falls back to clone
    assert _run_bpf(program, arch, 59, 0) == ALLOW
    assert _run_bpf(program, I386, 120, 0) == KILL
    if machine == "x86_64":
        assert _run_bpf(program, arch, 0x40000000 | 56, 0x00800000) == ENOSYS  # x32


def _program(path: Path, text: str = "\x7fELF") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_approved_names_resolve_to_real_paths(tmp_path: Path) -> None:
    """PATH lookup (first match), symlinks, paths from cwd, shebang interpreters; unknown names add nothing."""
    usr_bin = tmp_path / "usr/bin"
    real = _program(usr_bin / "tool")
    (tmp_path / "bin").symlink_to(usr_bin)
    (usr_bin / "alias").symlink_to(real)
    _program(tmp_path / "later/tool")  # second on PATH: never what bash runs
    interp = _program(usr_bin / "interp")
    _program(tmp_path / "work/script", "#!/usr/bin/env -S interp -x\n")
    _program(tmp_path / "work/direct", f"#!{interp} -q\n")
    (tmp_path / "work/notexec").write_text("x")
    search = f"{tmp_path / 'bin'}:{tmp_path / 'later'}"
    found = tracer.resolve_approved(
        ["tool", "alias", "./script", "direct", "./direct", "notexec", "./notexec", "missing", ""],
        str(tmp_path / "work"),
        search,
    )
    bash = str(Path(tracer.BASH).resolve())
    env = str(Path("/usr/bin/env").resolve())
    expected = {bash, str(real), str(tmp_path / "work/script"), str(tmp_path / "work/direct"), str(interp), env}
    assert found == frozenset(expected)


def test_trailer_meta_is_parsed_only_after_the_nonce_even_when_split() -> None:
    meta = {"blocked": {"program": "/usr/bin/rm", "argv": ["rm", "x"]}}
    payload = b"out" + b"\0secure-mcp-end:abc:137:" + base64.b64encode(json.dumps(meta).encode()) + b"\0"
    trailer = _Trailer("abc")
    shown = b"".join(trailer.feed(payload[i : i + 5]) for i in range(0, len(payload), 5))
    assert shown == b"out" and trailer.status == 137 and trailer.meta == meta
    forged = _Trailer("abc")
    assert forged.feed(b"\0secure-mcp-end:zzz:0:e30=\0") != b""  # another nonce: plain output
    bad = _Trailer("abc")
    assert bad.feed(b"\0secure-mcp-end:abc:1:!!\0") == b"\0secure-mcp-end:abc:1:!!\0" and bad.status is None


def test_capture_takes_the_meta_from_stderr_once_both_streams_ended() -> None:
    def frame(kind: int, data: bytes) -> bytes:
        return bytes([kind, 0, 0, 0]) + struct.pack(">I", len(data)) + data

    meta = base64.b64encode(json.dumps({"execs": [["/usr/bin/ls", "ls"]]}).encode())
    stream = frame(STDOUT, b"hi\n\0secure-mcp-end:n:0\0") + frame(STDERR, b"\0secure-mcp-end:n:0:" + meta + b"\0")

    class Sock:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def recv(self, size: int) -> bytes:
            chunk, self.data = self.data[:size], self.data[size:]
            return chunk

    capture = OutputCapture(Sock(stream), 1000, "n")  # type: ignore[arg-type]
    assert capture.pump() and capture.exit_code == 0 and bytes(capture.stdout) == b"hi\n"
    assert capture.meta == {"execs": [["/usr/bin/ls", "ls"]]}
    assert _tracer_fields(capture.meta) == {"execs": (("/usr/bin/ls", "ls"),)}


def test_request_carries_the_approved_set_and_mode() -> None:
    wire = encode_request("shell", "ls", "/workspace", "n", approved=("ls", "cat"), exec_mode="report")
    body = json.loads(wire[4:])
    assert body["approved"] == ["ls", "cat"] and body["exec_mode"] == "report"
    assert "approved" not in json.loads(encode_request("python", "1", "/workspace")[4:])


def test_the_runner_refuses_a_shell_request_without_an_approved_set() -> None:
    """Fail closed before anything starts (the server refuses it too; this is the second check)."""
    status, meta = runner._shell_status({"kind": "shell", "source": "touch /nonexistent/x", "cwd": "/"})
    assert status == runner.EXIT_BAD_REQUEST and meta is not None and "approved" in str(meta["error"])


def test_bash_gets_an_environment_without_startup_hooks() -> None:
    environ = {
        "PATH": "/bin",
        "BASH_ENV": "/x",
        "ENV": "/x",
        "POSIXLY_CORRECT": "1",
        "SHELLOPTS": "xtrace",
        "BASHOPTS": "extglob",
        "BASH_FUNC_ls%%": "() { rm -rf /; }",
        "LANG": "C.UTF-8",
    }
    assert runner.bash_environment(environ) == {"PATH": "/bin", "LANG": "C.UTF-8"}


def test_tracer_fields_from_the_runner_meta() -> None:
    fields = _tracer_fields({"blocked": {"program": "/usr/bin/rm", "argv": ["rm", "-f", "x"]}})
    assert fields == {"blocked": BlockedExec("/usr/bin/rm", ("rm", "-f", "x"))}
    assert _tracer_fields({"error": "no"}) == {"tracer_error": "no"}
    assert _tracer_fields(None) == {}


class _FakeSandbox:
    def __init__(self, result: SandboxResult) -> None:
        self.result = result
        self.requests: list[SandboxRequest] = []

    async def run(self, request: SandboxRequest, progress: Any = None) -> SandboxResult:
        self.requests.append(request)
        return self.result


def _result(**fields: Any) -> SandboxResult:
    return SandboxResult(
        exit_code=137, stdout="", stderr="", timed_out=False, truncated=False, duration_ms=1.0, output_bytes=0, **fields
    )


@pytest.mark.anyio
async def test_a_blocked_exec_is_a_sandbox_refusal_in_the_spec_wording(tmp_path: Path) -> None:
    box = _FakeSandbox(_result(blocked=BlockedExec("/usr/bin/rm", ("rm", "-v", "x"))))
    env = SimpleNamespace(sandbox=box, config=make_config(tmp_path))
    with pytest.raises(Denied) as caught:
        await run_in_sandbox(SandboxRequest("shell", "rm x", approved=()), env, None)  # type: ignore[arg-type]
    assert (caught.value.stage, caught.value.reason) == ("sandbox", "exec_blocked")
    assert str(caught.value) == 'blocked by sandbox: /usr/bin/rm was started but not approved (argv: ["rm", "-v", "x"])'
    box.result = _result(tracer_error="exec tracer failed: no ptrace")
    with pytest.raises(SandboxError) as failed:
        await run_in_sandbox(SandboxRequest("shell", "ls", approved=()), env, None)  # type: ignore[arg-type]
    assert failed.value.reason == "exec_tracer"
    box.result = _result()
    assert isinstance(await run_in_sandbox(SandboxRequest("shell", "ls", approved=()), env, None), ProcessResult)  # type: ignore[arg-type]


def test_run_command_approves_the_plan_programs_and_the_allow_list(tmp_path: Path) -> None:
    """The command's executables (from validate), then the allow list's programs (first word of an
    entry such as "git status"), each once."""
    config: Config = make_config(tmp_path, {"tools": {"run_command": {"allow": ["ls", "make", "git status"]}}})
    prepared = _Prepared("/workspace", 30, ("python3", "rm", "ls"))
    plan = Plan(prompt="", confirm_reasons=[], data=prepared, audit={})
    approved = approved_programs(plan, SimpleNamespace(config=config))  # type: ignore[arg-type]
    assert approved == ("python3", "rm", "ls", "make", "git")
