"""Fixtures for the audit log tests: a key, a log path and a quick way to fill a log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from secure_mcp.audit import AuditLog

KEY = b"test-audit-key-0123456789abcdef"


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where the log under test lives (a fresh folder that does not exist yet)."""
    return tmp_path / "audit" / "audit.jsonl"


@pytest.fixture
def fill(log_path: Path) -> Callable[..., Path]:
    """Write ``count`` records synchronously with the test key; returns the log path."""

    def _fill(count: int, *, key: bytes | None = KEY, max_bytes: int = 64 * 1024 * 1024) -> Path:
        log = AuditLog(log_path, key=key, max_bytes=max_bytes)
        for index in range(count):
            log.append_sync({"event": "note", "n": index, "tool": "run_command"})
        return log_path

    return _fill
