"""The change set reader on real overlay layers: every kind of change, and only the changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

import pytest

from secure_mcp.effects.changeset import read_change_set
from secure_mcp.sandbox.layer import Layer, create_layer

pytestmark = pytest.mark.docker


def _seed(workspace: Path) -> None:
    (workspace / "keep.txt").write_text("keep\n")
    (workspace / "log.txt").write_text("one\n")
    (workspace / "doc.txt").write_text("a long line\nand another\n")
    (workspace / "script.sh").write_text("echo hi\n")
    (workspace / "old").mkdir()
    (workspace / "old" / "a.txt").write_text("aaaa")
    (workspace / "old" / "b.txt").write_text("bb")
    (workspace / "redo").mkdir()
    (workspace / "redo" / "gone.txt").write_text("gone")


def _kinds(layer: Layer, workspace: Path) -> dict[tuple[str, str], int]:
    changes = read_change_set(layer.upper, workspace)
    return {(c.path.as_posix(), c.kind): c.size for c in changes.changes}


@pytest.fixture
def seeded(workspace: Path) -> Path:
    _seed(workspace)
    return workspace


def test_every_kind_of_change_is_read_with_its_size(seeded: Path, layer: Layer) -> None:
    merged = layer.merged
    (merged / "new.txt").write_text("fresh")
    with (merged / "log.txt").open("a") as handle:
        handle.write("two\n")
    (merged / "doc.txt").write_text("")
    (merged / "keep.txt").read_text()
    os.chmod(merged / "script.sh", 0o755)  # noqa: S103 - a mode change to read
    shutil.rmtree(merged / "old")
    shutil.rmtree(merged / "redo")
    (merged / "redo").mkdir()
    (merged / "redo" / "fresh.txt").write_text("f")
    os.symlink("new.txt", merged / "link")
    os.mkfifo(merged / "pipe")
    os.link(merged / "new.txt", merged / "hard")
    kinds = _kinds(layer, seeded)
    assert kinds == {
        ("doc.txt", "modified"): 0,
        ("hard", "created"): 5,
        ("link", "symlink"): 7,
        ("log.txt", "modified"): 8,
        ("new.txt", "created"): 5,
        ("old", "deleted"): 0,
        ("pipe", "special"): 0,
        ("redo", "deleted"): 0,
        ("redo", "dir"): 0,
        ("redo/fresh.txt", "created"): 1,
        ("script.sh", "mode"): 8,
    }
    changes = {c.path: c for c in read_change_set(layer.upper, seeded).changes if c.kind != "dir"}
    assert changes[PurePosixPath("log.txt")].appended is True
    assert changes[PurePosixPath("doc.txt")].appended is False
    old = changes[PurePosixPath("old")].old
    assert old is not None and (old.kind, old.size, old.files) == ("dir", 6, 3)


def test_a_file_opened_for_writing_but_unchanged_is_not_a_change(seeded: Path, layer: Layer) -> None:
    with (layer.merged / "keep.txt").open("r+") as handle:
        handle.write("keep\n")  # the same bytes: copied up, not changed
    assert read_change_set(layer.upper, seeded).empty


def test_the_digest_binds_content_and_the_reader_never_walks_the_lower(seeded: Path, layer: Layer) -> None:
    (layer.merged / "a.txt").write_text("one")
    first = read_change_set(layer.upper, seeded).digest()
    (layer.merged / "a.txt").write_text("two")
    assert read_change_set(layer.upper, seeded).digest() != first
    for index in range(50):
        (seeded / f"untouched-{index}").write_text("x")  # the workspace grows, the change set does not
    assert [c.path.as_posix() for c in read_change_set(layer.upper, seeded).changes] == ["a.txt"]


def test_a_file_replaced_by_a_folder_is_a_deletion_and_a_folder(tmp_path: Path) -> None:
    workspace = tmp_path / "w"
    workspace.mkdir()
    (workspace / "thing").write_text("file")
    layer = create_layer(tmp_path / "l", workspace, 1024 * 1024)
    try:
        (layer.merged / "thing").unlink()
        (layer.merged / "thing").mkdir()
        (layer.merged / "thing" / "x").write_text("x")
        kinds = [(c.path.as_posix(), c.kind) for c in read_change_set(layer.upper, workspace).changes]
    finally:
        layer.discard()
    assert kinds == [("thing", "deleted"), ("thing", "dir"), ("thing/x", "created")]
