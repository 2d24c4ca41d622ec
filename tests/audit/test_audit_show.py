"""audit show: one readable line per call, filters, JSON lines, a bounded --follow, safe terminal output."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from secure_mcp.audit import AuditLog, parse_since, show_command

KEY = b"test-audit-key-0123456789abcdef"


def call_records(call_id: str, *, tool: str = "run_command", refused: bool = False) -> list[dict[str, Any]]:
    """The records the pipeline writes for one call."""
    first: dict[str, Any] = {
        "event": "call_received",
        "call_id": call_id,
        "principal": "alice",
        "transport": "stdio",
        "session": "s1",
        "tool": tool,
        "arguments": {"command": "ls"},
    }
    if refused:
        last: dict[str, Any] = {
            "event": "refused",
            "call_id": call_id,
            "tool": tool,
            "stage": "validate",
            "reason": "program_denied",
            "message": "no",
        }
    else:
        last = {
            "event": "executed",
            "call_id": call_id,
            "tool": tool,
            "duration_ms": 12,
            "exit_code": 0,
            "timed_out": False,
            "output_bytes": 3,
            "output_sha256": "0" * 64,
            "redactions": [],
            "warnings": [],
            "is_error": False,
        }
    return [first, last]


def _log(path: Path, calls: list[list[dict[str, Any]]]) -> AuditLog:
    log = AuditLog(path, key=KEY)
    log.append_sync({"event": "server_start", "pid": 1, "transport": "stdio"})
    for records in calls:
        for record in records:
            log.append_sync(record)
    return log


def _show(path: Path, **options: Any) -> str:
    out = io.StringIO()
    settings: dict[str, Any] = {"follow": False, "tool": None, "decision": None, "since": None, "as_json": False}
    settings.update(options)
    assert show_command(path, out=out, **settings) == 0
    return out.getvalue()


def test_table_has_one_line_per_call_with_decision_and_stage(log_path: Path) -> None:
    """Records of one call fold into one row; a refusal shows its stage and reason."""
    _log(log_path, [call_records("c1"), call_records("c2", tool="fetch_url", refused=True)])
    lines = _show(log_path, key=KEY).splitlines()
    rows = [line for line in lines if " c1" in line or " c2" in line]
    assert len(rows) == 2
    assert "allow" in rows[0] and "run_command" in rows[0]
    assert "refuse validate:program_denied" in rows[1]
    assert any("server_start" in line for line in lines)
    assert lines[-1].startswith("chain: intact")


def test_filters_by_tool_decision_and_since(log_path: Path) -> None:
    """--tool, --decision and --since narrow the rows; since in the future shows none."""
    _log(log_path, [call_records("c1"), call_records("c2", tool="fetch_url", refused=True)])
    refused = _show(log_path, decision="refuse")
    assert " c2" in refused and " c1" not in refused
    fetches = _show(log_path, tool="run_command")
    assert " c1" in fetches and " c2" not in fetches and "server_start" not in fetches
    later = _show(log_path, since=datetime.now(UTC) + timedelta(hours=1))
    assert " c1" not in later and " c2" not in later


def test_json_output_is_the_filtered_records(log_path: Path) -> None:
    """--json prints the records of matching calls as JSON lines, chain fields included."""
    _log(log_path, [call_records("c1"), call_records("c2", refused=True)])
    records = [json.loads(line) for line in _show(log_path, as_json=True, decision="allow").splitlines()]
    assert {r["call_id"] for r in records} == {"c1"}
    assert [r["event"] for r in records] == ["call_received", "executed"]
    assert all("hash" in r for r in records)


def test_terminal_control_characters_in_records_are_escaped(log_path: Path) -> None:
    """An agent-chosen value cannot inject ANSI escapes or bidi overrides into the operator's terminal."""
    records = call_records("c1")
    records[0]["principal"] = "evil\x1b[2J\u202e"
    _log(log_path, [records])
    text = _show(log_path)
    assert "\x1b" not in text and "\u202e" not in text


def test_unknown_events_and_unfinished_calls_are_still_shown(log_path: Path) -> None:
    """A record type show does not know gets a generic line; a call without result shows as pending."""
    _log(log_path, [[{"event": "policy_reloaded", "reason": "sighup"}], call_records("c9")[:1]])
    text = _show(log_path)
    assert "policy_reloaded" in text
    assert any("pending" in line and " c9" in line for line in text.splitlines())


def test_follow_prints_calls_as_they_complete_and_stops_when_told(log_path: Path) -> None:
    """--follow picks up records appended later and returns once stop() is true (bounded)."""
    log = _log(log_path, [call_records("c1")])
    polls = 0

    def stop() -> bool:
        nonlocal polls
        polls += 1
        if polls == 2:
            for record in call_records("c2"):
                log.append_sync(record)
        return polls > 5

    out = io.StringIO()
    settings: dict[str, Any] = {"tool": None, "decision": None, "since": None, "as_json": False}
    done = threading.Event()
    result: list[int] = []

    def run() -> None:
        result.append(show_command(log_path, follow=True, out=out, stop=stop, poll_interval_s=0.01, **settings))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(10)
    thread.join()
    assert result == [0]
    assert " c1" in out.getvalue() and " c2" in out.getvalue()


def test_since_accepts_relative_ages_and_iso_times() -> None:
    """'15m' is fifteen minutes ago; an ISO time with offset is taken as given."""
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_since("15m", now) == now - timedelta(minutes=15)
    assert parse_since("2025-01-01T10:00:00+00:00") == datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
