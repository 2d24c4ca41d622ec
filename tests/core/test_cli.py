"""The fixed command line: `audit verify` exit codes and `audit show` filters, through `main()`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secure_mcp.audit import AuditLog
from secure_mcp.cli import main

pytestmark = pytest.mark.anyio


async def _log(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path)
    await log.open()
    await log.append({"event": "call_received", "call_id": "c1", "principal": "p", "tool": "write_file"})
    await log.append({"event": "refused", "call_id": "c1", "tool": "write_file", "stage": "validate", "reason": "x"})
    await log.close()
    return path


async def test_audit_verify_exits_0_intact_1_tampered_2_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SPEC's exit codes, and the tampered case names the first bad line."""
    path = await _log(tmp_path)
    assert main(["audit", "verify", "--log", str(path)]) == 0
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["reason"] = "edited"
    path.write_text(lines[0] + "\n" + json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    assert main(["audit", "verify", "--log", str(path)]) == 1
    assert "line 2" in capsys.readouterr().out
    assert main(["audit", "verify", "--log", str(tmp_path / "missing.jsonl")]) == 2


async def test_audit_show_filters_by_decision_and_refuses_a_bad_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--decision refuse --since 1h` lists the refused call; a malformed --since is a usage error."""
    path = await _log(tmp_path)
    assert main(["audit", "show", "--log", str(path), "--decision", "refuse", "--since", "1h"]) == 0
    assert "validate:x" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main(["audit", "show", "--log", str(path), "--since", "yesterday-ish"])
    assert caught.value.code == 2
