"""Layers: the quota, and the start-up sweep that only removes layers of servers that are gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secure_mcp.sandbox.layer import Layer, create_layer, layer_folder_name, sweep_dead_layer_folders

pytestmark = pytest.mark.docker


def test_the_sweep_removes_a_dead_servers_layers_and_leaves_a_live_ones(tmp_path: Path, layer: Layer) -> None:
    base = tmp_path / "base"
    workspace = tmp_path / "ws2"
    workspace.mkdir()
    dead = create_layer(base / "999999999-12345", workspace, 1024 * 1024)
    live = create_layer(base / layer_folder_name(), workspace, 1024 * 1024)
    try:
        (live.merged / "kept").write_text("x")
        assert sweep_dead_layer_folders(base) == 2  # the dead server's tmpfs and its overlay folder
        assert not (base / "999999999-12345").exists()
        assert (live.upper / "kept").read_text() == "x" and os.path.ismount(live.merged)
    finally:
        dead.discard()
        live.discard()


def test_a_layer_is_its_own_size_limited_filesystem(workspace: Path, layer: Layer) -> None:
    with pytest.raises(OSError), (layer.merged / "big").open("wb") as handle:
        for _ in range(16):
            handle.write(b"\0" * 1024 * 1024)
            handle.flush()
    assert layer.full() and not (workspace / "big").exists()
    layer.discard()
    assert not layer.root.exists() and not layer.merged.exists()
