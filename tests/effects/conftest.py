"""Real copy-on-write layers over a temporary workspace, changed from the host through the overlay.

Writing through the merged folder makes overlayfs record exactly what a container's writes would
(copy-ups, whiteouts, opaque folders), so the reader and the judge are tested on the real thing.
Mounting needs CAP_SYS_ADMIN, as read-write runs do: these tests are marked ``docker`` (the same
environment runs them) and fail under SECURE_MCP_REQUIRE_DOCKER=1 when layers cannot be mounted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox.layer import Layer, create_layer


def _can_mount(tmp: Path) -> str | None:
    workspace = tmp / "probe-ws"
    workspace.mkdir()
    try:
        layer = create_layer(tmp / "probe-layers", workspace, 1024 * 1024)
    except SandboxError as exc:
        return exc.message
    layer.discard()
    return None


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def layer(tmp_path: Path, workspace: Path) -> Iterator[Layer]:
    """A mounted layer; seed the workspace *before* requesting it (the overlay is mounted here)."""
    problem = _can_mount(tmp_path)
    if problem is not None:
        if os.environ.get("SECURE_MCP_REQUIRE_DOCKER") == "1":
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but layers cannot be mounted: {problem}")
        pytest.skip(problem)
    made = create_layer(tmp_path / "layers", workspace, 8 * 1024 * 1024)
    try:
        yield made
    finally:
        made.discard()
