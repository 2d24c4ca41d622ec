"""Fixtures: a workspace with an ``outside/`` sibling, and a snapshot of everything outside it."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

Snapshot = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Layout:
    """``tmp/workspace`` (the root the tools may write to) and ``tmp/outside`` (must never change)."""

    base: Path
    workspace: Path
    outside: Path
    secret: Path

    def snapshot_outside(self) -> Snapshot:
        """Every entry under ``base`` except the workspace: kind, and content hash or link target."""
        seen: Snapshot = {}
        for dirpath, dirnames, filenames in os.walk(self.base, followlinks=False):
            here = Path(dirpath)
            if here == self.base:
                dirnames[:] = [d for d in dirnames if d != "workspace"]
            for name in dirnames + filenames:
                path = here / name
                st = path.lstat()
                key = str(path.relative_to(self.base))
                if stat.S_ISLNK(st.st_mode):
                    seen[key] = ("link", os.readlink(path))
                elif stat.S_ISREG(st.st_mode):
                    seen[key] = ("file", f"{oct(st.st_mode)}:{hashlib.sha256(path.read_bytes()).hexdigest()}")
                else:
                    seen[key] = ("other", oct(st.st_mode))
        return seen


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """A fresh workspace, an ``outside`` directory holding a secret file, side by side."""
    workspace = tmp_path / "workspace"
    outside = tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("the real secret\n")
    return Layout(tmp_path, workspace, outside, secret)
