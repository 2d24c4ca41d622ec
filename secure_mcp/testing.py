"""Test helpers we ship: an in-memory audit sink and a way to build a server without Docker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio


class MemoryAuditSink:
    """Keeps records in a list; ``fail`` makes every append raise, to test fail-closed audit."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = False
        self._lock = anyio.Lock()

    async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int:
        async with self._lock:
            if self.fail:
                raise OSError(28, "No space left on device")
            self.records.append(dict(record))
            return len(self.records)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if event is None or r.get("event") == event]
