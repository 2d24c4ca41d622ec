"""read_existing (for the diff), resolve_cwd (for run_command) and check_content."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

import pytest

from secure_mcp.errors import Denied
from secure_mcp.workspace_fs import (
    check_content,
    check_relative_path,
    has_redaction_marker,
    read_existing,
    resolve_cwd,
    snapshot_existing,
)

from .conftest import Layout


def _rel(path: str) -> PurePosixPath:
    return check_relative_path(path, ())


def test_read_existing_returns_content_or_none(layout: Layout) -> None:
    """The current content is returned, up to the limit; a missing file or parent gives None."""
    (layout.workspace / "a.txt").write_bytes(b"0123456789")
    assert read_existing(layout.workspace, _rel("a.txt"), 100) == b"0123456789"
    assert read_existing(layout.workspace, _rel("a.txt"), 4) == b"0123"
    assert read_existing(layout.workspace, _rel("missing.txt"), 4) is None
    assert read_existing(layout.workspace, _rel("no/such/dir.txt"), 4) is None


def test_snapshot_existing_says_when_content_was_cut(layout: Layout) -> None:
    """The snapshot carries the real size so the diff can say it compares a head only."""
    (layout.workspace / "a.txt").write_bytes(b"x" * 100)
    snap = snapshot_existing(layout.workspace, _rel("a.txt"), 10)
    assert snap is not None and (snap.size, snap.truncated, len(snap.data)) == (100, True, 10)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda lay: (lay.workspace / "t").symlink_to(lay.secret), "symlink"),
        (lambda lay: (lay.workspace / "t").mkdir(), "not_regular_file"),
        (lambda lay: os.mkfifo(lay.workspace / "t"), "not_regular_file"),
    ],
    ids=["symlink-to-outside", "directory", "fifo"],
)
def test_read_existing_refuses_non_regular_targets(layout: Layout, make: object, reason: str) -> None:
    """The diff never reads through a link (that would leak an outside file) or from a FIFO."""
    make(layout)  # type: ignore[operator]
    with pytest.raises(Denied) as info:
        read_existing(layout.workspace, _rel("t"), 100)
    assert info.value.reason == reason


def test_read_existing_refuses_symlinked_parent(layout: Layout) -> None:
    """A linked parent directory is refused rather than read through."""
    (layout.workspace / "sub").symlink_to(layout.outside, target_is_directory=True)
    with pytest.raises(Denied) as info:
        read_existing(layout.workspace, _rel("sub/secret.txt"), 100)
    assert info.value.reason == "symlink"


def test_resolve_cwd_maps_to_container_path(layout: Layout) -> None:
    """Existing directories map to /workspace/<rel>; '.' maps to /workspace."""
    (layout.workspace / "a" / "b").mkdir(parents=True)
    assert resolve_cwd(layout.workspace, ".") == "/workspace"
    assert resolve_cwd(layout.workspace, "./a//b/") == "/workspace/a/b"
    assert resolve_cwd(layout.workspace, "a") == "/workspace/a"


@pytest.mark.parametrize(
    ("cwd", "reason"),
    [
        ("..", "parent_escape"),
        ("/tmp", "absolute_path"),
        ("", "empty_path"),
        ("a\\b", "backslash"),
        ("missing", "not_found"),
        ("link", "symlink"),
        ("file.txt", "not_a_directory"),
        ("link/inner", "symlink"),
    ],
)
def test_resolve_cwd_refuses(layout: Layout, cwd: str, reason: str) -> None:
    """A cwd that is not a real directory inside the workspace is refused with its reason."""
    (layout.workspace / "link").symlink_to(layout.outside, target_is_directory=True)
    (layout.workspace / "file.txt").write_text("x")
    with pytest.raises(Denied) as info:
        resolve_cwd(layout.workspace, cwd)
    assert (info.value.stage, info.value.reason) == ("validate", reason)


def test_check_content_encodes_utf8() -> None:
    """Content is returned as the exact UTF-8 bytes to write."""
    assert check_content("héllo\n", 100) == "héllo\n".encode()


@pytest.mark.parametrize(
    ("content", "limit"),
    [("x" * 11, 10), ("é" * 6, 10), ("€" * 4, 11)],
)
def test_check_content_refuses_content_over_limit(content: str, limit: int) -> None:
    """The limit counts UTF-8 bytes, not characters."""
    with pytest.raises(Denied) as info:
        check_content(content, limit)
    assert info.value.reason == "content_too_large"


def test_check_content_accepts_exactly_the_limit() -> None:
    """Content of exactly max_bytes bytes is allowed."""
    assert len(check_content("é" * 5, 10)) == 10


@pytest.mark.parametrize(
    ("content", "flagged"),
    [
        ("key = [REDACTED:aws_access_key]", True),
        ("key = ［ＲＥＤＡＣＴＥＤ：aws]", True),
        ("key = [redacted:aws]", True),
        ("key = [RED\u200bACTED:aws]", True),
        ("key = [ REDACTED : aws]", True),
        ("the word REDACTED alone", False),
        ("[REDACTED] without colon", False),
        ("plain text", False),
    ],
)
def test_redaction_marker_detection(content: str, flagged: bool) -> None:
    """The placeholder is found also in full-width, lower-case and zero-width-split forms."""
    assert has_redaction_marker(content) is flagged
    if flagged:
        with pytest.raises(Denied) as info:
            check_content(content, 1000)
        assert info.value.reason == "redaction_marker"
    else:
        assert check_content(content, 1000) == content.encode()


def test_check_content_refuses_lone_surrogates() -> None:
    """Text that has no UTF-8 form is refused rather than written with replacement characters."""
    with pytest.raises(Denied) as info:
        check_content("a\udc80b", 100)
    assert info.value.reason == "invalid_unicode"
