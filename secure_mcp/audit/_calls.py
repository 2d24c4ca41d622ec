"""Folding the records of one call (by ``call_id``) into one row a person can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL_EVENTS = frozenset({"refused", "executed"})


def parse_ts(value: object) -> datetime | None:
    """The record's ``ts`` as an aware datetime, or ``None`` when it is missing or malformed."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass
class Row:
    """One line of the table: a whole call, or one record that belongs to no call."""

    records: list[dict[str, Any]] = field(default_factory=list)
    call_id: str | None = None
    decision: str = "pending"
    stage: str | None = None
    reason: str | None = None
    confirmed: str | None = None
    duration_ms: float | None = None
    is_error: bool = False

    @property
    def first(self) -> dict[str, Any]:
        return self.records[0]

    @property
    def ts(self) -> datetime | None:
        return parse_ts(self.first.get("ts"))

    def field(self, name: str) -> Any:
        """The first value any of the row's records gives for ``name``."""
        for record in self.records:
            if record.get(name) is not None:
                return record[name]
        return None

    def add(self, record: dict[str, Any]) -> bool:
        """Fold ``record`` in; whether the call is now complete."""
        self.records.append(record)
        event = record.get("event")
        if event == "confirmation_answered":
            self.confirmed = str(record.get("answer"))
        elif event == "refused":
            self.decision, self.stage, self.reason = "refuse", record.get("stage"), record.get("reason")
        elif event == "executed":
            self.decision = "allow"
            self.is_error = record.get("is_error") is True
            duration = record.get("duration_ms")
            if isinstance(duration, int | float) and not isinstance(duration, bool):
                self.duration_ms = float(duration)
        if event in TERMINAL_EVENTS:
            if self.duration_ms is None:
                start, end = self.ts, parse_ts(record.get("ts"))
                if start is not None and end is not None:
                    self.duration_ms = (end - start).total_seconds() * 1000
            return True
        return False


class Assembler:
    """Collects records into rows; a call's row is released when its refusal or result arrives."""

    def __init__(self) -> None:
        self._open: dict[str, Row] = {}

    def feed(self, record: dict[str, Any]) -> list[Row]:
        """The rows completed by ``record`` (none while a call is still running)."""
        call_id = record.get("call_id")
        if not isinstance(call_id, str):
            return [Row(records=[record])]
        row = self._open.get(call_id)
        if row is None:
            row = self._open[call_id] = Row(call_id=call_id)
        if row.add(record):
            del self._open[call_id]
            return [row]
        return []

    def flush(self) -> list[Row]:
        """Calls that never finished (still running, or the server stopped mid-call)."""
        rows = sorted(self._open.values(), key=lambda row: row.first.get("seq") or 0)
        self._open.clear()
        return rows
