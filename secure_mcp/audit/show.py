"""``audit show``: the log as a table for a person (one line per call) or filtered JSON lines.

Record values come from agents and remote principals, so every cell is made printable before it
reaches the terminal: control characters, ANSI escapes and bidirectional overrides are shown
escaped instead of being interpreted by the terminal.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO

from secure_mcp.audit._calls import Assembler, Row
from secure_mcp.audit.canonical import parse_object
from secure_mcp.audit.files import archives
from secure_mcp.audit.verify import verify_log

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_HEADER = f"{'TIME (UTC)':<23}  {'PRINCIPAL':<16}  {'TOOL':<14}  {'DECISION':<34}  {'DURATION':>9}  CALL"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: ISO-8601 (naive means local time) or a relative age like ``15m``, ``2h``, ``7d``.

    Raises:
        ValueError: neither form.
    """
    match = _RELATIVE.match(text)
    if match is not None:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now or datetime.now(UTC)) - delta
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.astimezone()


def printable(value: object, width: int | None = None) -> str:
    """``value`` as text with every non-printable character escaped, cut to ``width``."""
    text = "-" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "~"
    return text


def _summary(row: Row) -> str:
    if row.call_id is None:
        record = row.first
        extras = " ".join(
            f"{name}={printable(record[name], 24)}"
            for name in ("reason", "transport", "pid", "version", "lost_bytes")
            if name in record
        )
        return f"{printable(record.get('event'), 20)} {extras}".strip()
    text = row.decision
    if row.decision == "refuse":
        text += f" {row.stage}:{row.reason}"
    elif row.is_error:
        text += " (error)"
    if row.confirmed is not None:
        text += f" [confirm:{row.confirmed}]"
    return printable(text, 34)


def render(row: Row) -> str:
    """One table line."""
    ts = row.first.get("ts")
    when = printable(ts.replace("T", " ").rstrip("Z") if isinstance(ts, str) else ts, 23)
    duration = f"{row.duration_ms:.0f} ms" if row.duration_ms is not None else "-"
    call = printable(row.call_id, 12) if row.call_id else ""
    return (
        f"{when:<23}  {printable(row.field('principal'), 16):<16}  {printable(row.field('tool'), 14):<14}  "
        f"{_summary(row):<34}  {duration:>9}  {call}".rstrip()
    )


class _Filter:
    def __init__(self, tool: str | None, decision: str | None, since: datetime | None) -> None:
        self.tool, self.decision, self.since = tool, decision, since

    def keeps(self, row: Row) -> bool:
        if self.since is not None:
            ts = row.ts
            if ts is None or ts < self.since:
                return False
        if row.call_id is None:
            return self.tool is None and self.decision is None
        if self.tool is not None and row.field("tool") != self.tool:
            return False
        return self.decision is None or row.decision == self.decision


def _records(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        try:
            yield parse_object(line)
        except ValueError:
            yield {"event": "<unreadable line>"}


class _Follower:
    """Reads the active file incrementally and follows it across a rotation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.partial = b""

    def read_new(self) -> bytes:
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return b""
        chunks = [self.partial]
        while chunk := os.read(self.fd, 1 << 20):
            chunks.append(chunk)
        data = b"".join(chunks)
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self.fd).st_ino
        except FileNotFoundError:
            rotated = True
        if rotated:
            os.close(self.fd)
            self.fd = None
        return data[:cut]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def show_command(
    path: Path,
    *,
    follow: bool,
    tool: str | None,
    decision: Literal["allow", "refuse"] | None,
    since: datetime | None,
    as_json: bool,
    out: TextIO,
    key: bytes | None = None,
    stop: Callable[[], bool] | None = None,
    poll_interval_s: float = 0.5,
) -> int:
    """Print the log for a person or a script; 0 done, 2 cannot read.

    ``--follow`` keeps printing calls as they complete until ``stop()`` is true or Ctrl-C. With a
    ``key`` the table ends with the chain's verification verdict.
    """
    wanted = _Filter(tool, decision, since)
    assembler = Assembler()
    follower = _Follower(path)

    def emit(rows: list[Row]) -> None:
        for row in rows:
            if not wanted.keeps(row):
                continue
            if as_json:
                for record in row.records:
                    out.write(json.dumps(record, sort_keys=True, ensure_ascii=True) + "\n")
            else:
                out.write(render(row) + "\n")
        out.flush()

    try:
        if not as_json:
            out.write(_HEADER + "\n")
        for _, archive in archives(path):
            for record in _records(archive.read_bytes()):
                emit(assembler.feed(record))
        for record in _records(follower.read_new()):
            emit(assembler.feed(record))
        while follow and not (stop is not None and stop()):
            time.sleep(poll_interval_s)
            for record in _records(follower.read_new()):
                emit(assembler.feed(record))
        if not follow:
            emit(assembler.flush())
        if key is not None and not as_json and not follow:
            report = verify_log(path, key)
            verdict = "intact"
            if not report.ok:
                verdict = f"TAMPERED at {report.first_bad_file} line {report.first_bad_line}: {report.reason}"
            out.write(f"chain: {verdict} ({report.records} records verified)\n")
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        out.write(f"cannot read the audit log {path}: {exc.strerror or exc}\n")
        return 2
    finally:
        follower.close()
    return 0
