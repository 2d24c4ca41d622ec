"""Races: links swapped in while writes run, and readers during overwrites.

Every loop is bounded in both iterations and wall-clock time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secure_mcp.errors import Denied, SecureMCPError
from secure_mcp.workspace_fs import WriteMode, check_relative_path, read_existing, write_file

from .conftest import Layout

MAX_SECONDS = 1.5
MAX_ITERATIONS = 2000
MODES: tuple[WriteMode, ...] = ("create", "overwrite", "append")


def _swap_forever(stop: threading.Event, real: Path, parked: Path, link_target: Path) -> None:
    """Alternate ``real`` between the real entry and a symlink to ``link_target``."""
    deadline = time.monotonic() + MAX_SECONDS + 1
    for _ in range(50 * MAX_ITERATIONS):
        if stop.is_set() or time.monotonic() > deadline:
            break
        try:
            os.rename(real, parked)
            os.symlink(link_target, real)
            os.unlink(real)
            os.rename(parked, real)
        except OSError:
            # The writer may have recreated the name in between (mkdir of a missing parent);
            # put the real entry back where possible and keep going.
            if os.path.islink(real):
                os.unlink(real)
            if os.path.lexists(parked) and not os.path.lexists(real):
                os.rename(parked, real)


def _run_race(swapper: Callable[[threading.Event], None], write_once: Callable[[int], None]) -> tuple[int, int]:
    stop = threading.Event()
    thread = threading.Thread(target=swapper, args=(stop,), daemon=True)
    thread.start()
    done = refused = 0
    deadline = time.monotonic() + MAX_SECONDS
    try:
        for i in range(MAX_ITERATIONS):
            if time.monotonic() > deadline:
                break
            try:
                write_once(i)
                done += 1
            except SecureMCPError:
                refused += 1
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    return done, refused


@pytest.mark.slow  # time-boxed fuzzing (MAX_SECONDS): in `make test`, not `make unit`
def test_parent_directory_swapped_for_symlink_never_leads_outside(layout: Layout) -> None:
    """While a thread keeps swapping workspace/d for a link to outside/, no write lands outside."""
    (layout.workspace / "d").mkdir()
    before = layout.snapshot_outside()

    def swapper(stop: threading.Event) -> None:
        _swap_forever(stop, layout.workspace / "d", layout.workspace / "d-parked", layout.outside)

    def write_once(i: int) -> None:
        rel = check_relative_path(f"d/f{i % 7}.txt", ())
        write_file(layout.workspace, rel, b"pwned\n", MODES[i % 3], durable=False)

    done, refused = _run_race(swapper, write_once)
    assert layout.snapshot_outside() == before
    assert done > 0 and refused > 0, (done, refused)


@pytest.mark.slow  # time-boxed fuzzing (MAX_SECONDS): in `make test`, not `make unit`
def test_target_file_swapped_for_symlink_never_changes_outside_file(layout: Layout) -> None:
    """While a thread keeps swapping workspace/t.txt for a link to the outside secret, it stays intact."""
    (layout.workspace / "t.txt").write_text("inside\n")
    before = layout.snapshot_outside()

    def swapper(stop: threading.Event) -> None:
        _swap_forever(stop, layout.workspace / "t.txt", layout.workspace / "t-parked", layout.secret)

    def write_once(i: int) -> None:
        rel = check_relative_path("t.txt", ())
        if i % 2:
            read_existing(layout.workspace, rel, 1024)
        write_file(layout.workspace, rel, b"pwned\n", MODES[1 + i % 2], durable=False)

    done, refused = _run_race(swapper, write_once)
    assert layout.snapshot_outside() == before
    assert done > 0 and refused > 0, (done, refused)


def _swap_before_open(monkeypatch: pytest.MonkeyPatch, name: str, swap: Callable[[], None], nth: int = 1) -> None:
    """Make the ``nth`` ``os.open`` of ``name`` find it swapped: the exact check-then-use window."""
    real_open = os.open
    seen = 0

    def racing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        nonlocal seen
        if path == name:
            seen += 1
            if seen == nth:
                swap()
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", racing_open)


def test_link_swapped_in_after_lstat_is_not_followed_by_append(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file passes the lstat check, becomes a link before open, and O_NOFOLLOW refuses it."""
    target = layout.workspace / "t.txt"
    target.write_text("inside\n")
    before = layout.snapshot_outside()

    def swap() -> None:
        target.unlink()
        target.symlink_to(layout.secret)

    # The first open of the name is the O_EXCL attempt to create; the second is the real open.
    _swap_before_open(monkeypatch, "t.txt", swap, nth=2)
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, check_relative_path("t.txt", ()), b"pwned\n", "append")
    assert info.value.reason == "symlink"
    assert layout.snapshot_outside() == before


def test_file_swapped_for_fifo_after_lstat_is_caught_by_fstat(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file replaced by a FIFO between lstat and open is refused without blocking."""
    target = layout.workspace / "t.txt"
    target.write_text("inside\n")

    def swap() -> None:
        target.unlink()
        os.mkfifo(target)

    _swap_before_open(monkeypatch, "t.txt", swap, nth=2)
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, check_relative_path("t.txt", ()), b"x", "append")
    assert info.value.reason == "not_regular_file"


def test_file_replaced_between_lstat_and_open_is_refused(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    """A different regular file swapped in after the check is caught by comparing inodes."""
    target = layout.workspace / "t.txt"
    target.write_text("inside\n")

    def swap() -> None:
        # Create the replacement first so it cannot reuse the freed inode number.
        (layout.workspace / "other").write_text("other\n")
        (layout.workspace / "other").replace(target)

    _swap_before_open(monkeypatch, "t.txt", swap, nth=1)
    with pytest.raises(Denied) as info:
        read_existing(layout.workspace, check_relative_path("t.txt", ()), 100)
    assert info.value.reason == "path_race"


def test_directory_swapped_in_walk_is_not_followed(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent directory replaced by a link just before it is opened is refused, not entered."""
    (layout.workspace / "d").mkdir()
    before = layout.snapshot_outside()

    def swap() -> None:
        (layout.workspace / "d").rename(layout.workspace / "d-parked")
        (layout.workspace / "d").symlink_to(layout.outside, target_is_directory=True)

    _swap_before_open(monkeypatch, "d", swap)
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, check_relative_path("d/secret.txt", ()), b"pwned\n", "overwrite")
    assert info.value.reason == "symlink"
    assert layout.snapshot_outside() == before


def test_target_swapped_for_link_after_diff_is_replaced_not_followed(layout: Layout) -> None:
    """A link planted after the diff was read makes the overwrite refuse; the outside file is intact."""
    target = layout.workspace / "t.txt"
    target.write_text("inside\n")
    rel = check_relative_path("t.txt", ())
    assert read_existing(layout.workspace, rel, 100) == b"inside\n"
    target.unlink()
    target.symlink_to(layout.secret)
    before = layout.snapshot_outside()
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, rel, b"pwned\n", "overwrite")
    assert info.value.reason == "symlink"
    assert layout.snapshot_outside() == before


@pytest.mark.slow  # time-boxed fuzzing (MAX_SECONDS): in `make test`, not `make unit`
def test_reader_never_sees_a_partial_overwrite(layout: Layout) -> None:
    """Readers racing repeated overwrites of a 2 MiB file always see one whole version."""
    size = 2 * 1024 * 1024
    versions = (b"A" * size, b"B" * size)
    target = layout.workspace / "big.bin"
    target.write_bytes(versions[0])
    rel = check_relative_path("big.bin", ())
    stop = threading.Event()
    torn: list[int] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        deadline = time.monotonic() + MAX_SECONDS + 1
        while not stop.is_set() and time.monotonic() < deadline:
            data = target.read_bytes()
            reads += 1
            if data not in versions:
                torn.append(len(data))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + MAX_SECONDS
    try:
        for i in range(300):
            if time.monotonic() > deadline:
                break
            write_file(layout.workspace, rel, versions[(i + 1) % 2], "overwrite", durable=False)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not torn
    assert reads > 0
