"""Issue 17, "Configuration, doctor, CLI": what `serve`, `doctor` and `audit show` say at the edges.

Each test fails on 0.1.0: a workspace holding the config was accepted, `doctor` passed an audit
path that cannot exist, `serve` died with a traceback, `audit show | head` printed two
tracebacks, `serve` printed nothing at start, and a taken port exited 3 with uvicorn's text.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from typing import IO

import pytest

from secure_mcp.cli import main
from secure_mcp.config import load_config, parse_config
from secure_mcp.doctor import probe_audit_path, run_doctor
from secure_mcp.errors import ConfigError
from secure_mcp.sandbox.doctor import can_write
from secure_mcp.workspace_share import shared_gid
from tests.http.servers import free_port, server_env, stop

pytestmark = pytest.mark.process

UNCREATABLE = "/proc/nope/audit.jsonl"  # /proc refuses new folders even to root, whom os.access waves through


def _secure_mcp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_mcp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )


# --- a workspace that holds the config, the audit log or its key is refused ---------------------


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[workspace]\nroot = "."\n', "the config file"),
        ('[workspace]\nroot = "ws"\n[audit]\npath = "ws/logs/audit.jsonl"\n', "the audit log"),
        ('[workspace]\nroot = "ws"\n[audit]\nkey_file = "ws/../ws/audit.key"\n', "the audit key"),
    ],
)
def test_a_workspace_containing_a_control_file_is_refused_at_start(
    tmp_path: Path, toml: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent writes the workspace: from there it could rewrite its policy or its own record."""
    config = tmp_path / "config.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=named):
        load_config(config)
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "workspace.root" in err


def test_a_workspace_beside_the_config_and_the_log_is_accepted(tmp_path: Path) -> None:
    """The bundled layout (workspace/, audit/ and config.toml side by side) stays valid."""
    data: dict[str, object] = {
        "workspace": {"root": "workspace"},
        "audit": {"path": "audit/audit.jsonl", "key_file": "audit.key"},
    }
    config = parse_config(data, tmp_path, tmp_path / "config.toml")
    assert config.workspace_root == tmp_path.resolve() / "workspace"


# --- doctor and serve check the audit path by creating it ---------------------------------------


def test_doctor_fails_an_audit_path_that_cannot_be_created(tmp_path: Path) -> None:
    """Not `os.access` (root passes it): the folder is created and the file opened, as the writer will."""
    config = parse_config({"workspace": {"root": str(tmp_path / "ws")}, "audit": {"path": UNCREATABLE}}, tmp_path)
    out = StringIO()
    assert run_doctor(config, out) == 1
    audit = next(line for line in out.getvalue().splitlines() if "audit:" in line)
    assert audit.startswith("[FAIL] audit: cannot create or open /proc/nope")


def test_the_audit_probe_leaves_no_file_behind_and_accepts_a_new_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "audit.jsonl"
    assert probe_audit_path(path) is None
    assert path.parent.is_dir() and not path.exists()
    assert probe_audit_path(Path(UNCREATABLE)) is not None


def test_serve_with_an_uncreatable_audit_path_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[audit]\npath = "{UNCREATABLE}"\n[sandbox]\nwarm_pool = 0\n')
    done = _secure_mcp("serve", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("secure-mcp: cannot start: audit log: cannot create or open /proc/nope")
    assert "Traceback" not in done.stderr


# --- doctor's workspace line: group sharing counts, and a limit is a [warn] ----------------------


def _stat(uid: int, gid: int, mode: int) -> os.stat_result:
    return os.stat_result((stat.S_IFDIR | mode, 0, 0, 2, uid, gid, 4096, 0, 0, 0))


@pytest.mark.parametrize(
    ("uid", "gid", "mode", "writable"),
    [
        (10001, 0, 0o700, True),  # owner
        (0, 4242, 0o2775, True),  # the shared group (supplementary)
        (0, 10001, 0o2770, True),  # the sandbox's own group (server runs as root)
        (0, 4242, 0o2755, False),  # group without write
        (0, 0, 0o755, False),  # nobody's group, no other-write
        (0, 0, 0o777, True),  # world-writable
        (10001, 4242, 0o577, False),  # owner bits decide for the owner, even if group/other could
        (0, 4242, 0o2705, False),  # group bits decide for a member of the group...
        (0, 4242, 0o2757, False),  # ...even when the other bits would allow it
    ],
)
def test_can_write_follows_the_kernels_owner_group_other_order(uid: int, gid: int, mode: int, writable: bool) -> None:
    assert can_write(_stat(uid, gid, mode), 10001, {10001, 4242}) is writable


def test_doctor_says_a_group_shared_workspace_is_writable(tmp_path: Path) -> None:
    """0.1.0 said "not writable by the sandbox user" (and [ok]) for exactly the folder the server shares."""
    root = tmp_path / "ws"
    root.mkdir()
    os.chown(root, -1, shared_gid())
    root.chmod(0o2775)
    config = parse_config({"workspace": {"root": str(root)}, "audit": {"path": "audit/a.jsonl"}}, tmp_path)
    out = StringIO()
    run_doctor(config, out)
    line = next(line for line in out.getvalue().splitlines() if line.startswith("[") and "workspace:" in line)
    assert line.startswith("[ok] workspace:") and "is writable by the sandbox user 10001" in line


def test_doctor_labels_a_workspace_the_sandbox_cannot_write_as_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder the server cannot share (another owner, no root) is a [warn] line, never [ok]."""
    monkeypatch.setattr("secure_mcp.doctor.will_share", lambda info: False)
    root = tmp_path / "ws"
    root.mkdir()
    os.chown(root, 4343, 4343)
    root.chmod(0o755)
    config = parse_config({"workspace": {"root": str(root)}, "audit": {"path": "audit/a.jsonl"}}, tmp_path)
    out = StringIO()
    run_doctor(config, out)
    line = next(line for line in out.getvalue().splitlines() if "workspace:" in line)
    assert line.startswith("[warn] workspace:") and "not writable by the sandbox user" in line


# --- audit show | head ---------------------------------------------------------------------------


def test_audit_show_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """`secure-mcp audit show | head -1`: more than a pipe buffer of rows, the reader leaves after one."""
    log = tmp_path / "audit.jsonl"
    with log.open("w") as handle:
        for i in range(3000):
            ts = f"2026-11-30T10:00:{i % 60:02d}.000Z"
            handle.write(json.dumps({"event": "call_received", "call_id": f"c{i}", "tool": "write_file", "ts": ts}))
            handle.write("\n" + json.dumps({"event": "refused", "call_id": f"c{i}", "stage": "validate", "ts": ts}))
            handle.write("\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "secure_mcp", "audit", "show", "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=server_env(),
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"TIME (UTC)")
        proc.stdout.close()  # what `head -1` does after its line
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert err == b""


# --- serve's start line, the image warning, and a taken port -------------------------------------


def _lines(stream: IO[str] | None, count: int, deadline_s: float = 60) -> list[str]:
    """Up to ``count`` lines from a pipe, giving up at the deadline (a silent server must not hang us)."""
    assert stream is not None
    lines: list[str] = []

    def read() -> None:
        for line in stream:
            lines.append(line)
            if len(lines) >= count:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(deadline_s)
    return list(lines)


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"[sandbox]\nwarm_pool = 0\n{extra}\n[auth]\ndisabled = true\n")
    return config


def test_serve_on_stdio_prints_one_start_line_to_stderr(tmp_path: Path) -> None:
    """Stdin at its end: the server starts, says where and with what, and stops; stdout stays the wire."""
    config = _config(tmp_path)
    done = _secure_mcp("serve", "--config", str(config))
    assert done.returncode == 0 and done.stdout == ""
    first = done.stderr.splitlines()[0]
    assert first.startswith("secure-mcp ") and ": serving stdio;" in first
    audit = tmp_path / "audit" / "audit.jsonl"
    for part in (f"config {config}", f"workspace {tmp_path / 'workspace'}", f"audit {audit}"):
        assert part in first
    assert "warm pool off" in first  # warm_pool = 0


def test_serve_over_http_names_the_endpoint_and_warns_about_a_missing_image(tmp_path: Path) -> None:
    config = _config(tmp_path, 'image = "secure-mcp-sandbox:no-such-tag-for-tests"')
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "secure_mcp", "serve", "--config", str(config), "--transport", "streamable-http"]
        + ["--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=server_env(),
        text=True,
    )
    try:
        lines = _lines(proc.stderr, 2)
    finally:
        stop(proc)  # type: ignore[arg-type]
    assert len(lines) == 2, lines
    first, second = lines
    assert f": serving streamable-http on http://127.0.0.1:{port}/mcp;" in first
    assert second.startswith("warning: run_command and execute_python will be refused: ")
    assert "no-such-tag-for-tests" in second or "Docker engine" in second


def test_a_port_in_use_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _secure_mcp("serve", "--config", str(_config(tmp_path)), "--transport", "sse", "--port", str(port))
    assert done.returncode == 3
    assert done.stderr == f"secure-mcp: cannot start: cannot listen on 127.0.0.1:{port}: the port is already in use " \
        "(another secure-mcp? pick one with --port)\n"
