"""create / overwrite / append: outcomes, modes, refusals of non-regular targets."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import PurePosixPath

import pytest

from secure_mcp.errors import Denied, ToolFailure
from secure_mcp.workspace_fs import WriteMode, WriteOutcome, check_relative_path, write_file

from .conftest import Layout


def _rel(path: str) -> PurePosixPath:
    return check_relative_path(path, ())


def test_create_writes_new_file_and_reports_outcome(layout: Layout) -> None:
    """create writes the bytes, creates missing parents and reports size, creation and hash."""
    outcome = write_file(layout.workspace, _rel("./src//pkg/mod.py"), b"print(1)\n", "create")
    assert outcome == WriteOutcome("src/pkg/mod.py", 9, True, hashlib.sha256(b"print(1)\n").hexdigest())
    assert (layout.workspace / "src" / "pkg" / "mod.py").read_bytes() == b"print(1)\n"


def test_create_refuses_existing_file_as_ordinary_failure(layout: Layout) -> None:
    """create is exclusive: an existing file is a ToolFailure and keeps its content."""
    (layout.workspace / "a.txt").write_text("keep")
    with pytest.raises(ToolFailure) as info:
        write_file(layout.workspace, _rel("a.txt"), b"new", "create")
    assert info.value.reason == "file_exists"
    assert (layout.workspace / "a.txt").read_text() == "keep"


def test_create_leaves_no_temporary_files(layout: Layout) -> None:
    """Neither a successful nor a refused create leaves a temporary file behind."""
    write_file(layout.workspace, _rel("a.txt"), b"1", "create")
    with pytest.raises(ToolFailure):
        write_file(layout.workspace, _rel("a.txt"), b"2", "create")
    assert sorted(p.name for p in layout.workspace.iterdir()) == ["a.txt"]


def test_new_files_are_group_writable_and_never_executable(layout: Layout) -> None:
    """New files are exactly 0o664 whatever the umask (shared with the sandbox user); no execute bit."""
    for mode, name in (("create", "c.sh"), ("overwrite", "o.sh"), ("append", "a.sh")):
        write_file(layout.workspace, _rel(name), b"#!/bin/sh\n", mode)  # type: ignore[arg-type]
        assert stat.S_IMODE(os.stat(layout.workspace / name).st_mode) == 0o664


def test_new_directories_are_set_group_id_and_group_writable(layout: Layout) -> None:
    """Parents created on the way keep the workspace's group for everything below them."""
    write_file(layout.workspace, _rel("d1/d2/f.txt"), b"x", "create")
    for folder in (layout.workspace / "d1", layout.workspace / "d1" / "d2"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o2775


def test_overwrite_replaces_content_and_keeps_permission_bits(layout: Layout) -> None:
    """overwrite swaps the content atomically and keeps the old permission bits, minus setuid."""
    target = layout.workspace / "run.sh"
    target.write_text("old")
    os.chmod(target, 0o4750)  # noqa: S103 - a setuid bit the overwrite must drop
    outcome = write_file(layout.workspace, _rel("run.sh"), b"new", "overwrite")
    assert outcome.created is False and outcome.bytes_written == 3
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o750
    assert [p.name for p in layout.workspace.iterdir()] == ["run.sh"]


def test_overwrite_of_missing_file_creates_it(layout: Layout) -> None:
    """overwrite of a missing file creates it (the confirmation diff showed it as new)."""
    outcome = write_file(layout.workspace, _rel("d/new.txt"), b"x", "overwrite")
    assert outcome.created is True
    assert (layout.workspace / "d" / "new.txt").read_bytes() == b"x"


def test_append_adds_to_end_and_hashes_appended_bytes(layout: Layout) -> None:
    """append extends the file; sha256 is of the appended bytes only."""
    (layout.workspace / "log.txt").write_bytes(b"one\n")
    outcome = write_file(layout.workspace, _rel("log.txt"), b"two\n", "append")
    assert (layout.workspace / "log.txt").read_bytes() == b"one\ntwo\n"
    assert outcome == WriteOutcome("log.txt", 4, False, hashlib.sha256(b"two\n").hexdigest())


def test_append_to_missing_file_creates_it(layout: Layout) -> None:
    """append to a missing file creates it, like '>>'."""
    assert write_file(layout.workspace, _rel("new.log"), b"x", "append").created is True


@pytest.mark.parametrize("mode", ["create", "overwrite", "append"])
def test_directory_target_is_refused(layout: Layout, mode: WriteMode) -> None:
    """A directory at the target name is never replaced or written into."""
    (layout.workspace / "d").mkdir()
    (layout.workspace / "d" / "keep").write_text("k")
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, _rel("d"), b"x", mode)
    assert info.value.reason == "not_regular_file"
    assert (layout.workspace / "d" / "keep").read_text() == "k"


@pytest.mark.parametrize("mode", ["create", "overwrite", "append"])
def test_fifo_target_is_refused_without_blocking(layout: Layout, mode: WriteMode) -> None:
    """A FIFO is refused at once; opening it would block the server until a reader appears."""
    os.mkfifo(layout.workspace / "pipe")
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, _rel("pipe"), b"x", mode)
    assert info.value.reason == "not_regular_file"
    assert stat.S_ISFIFO(os.lstat(layout.workspace / "pipe").st_mode)


@pytest.mark.parametrize("mode", ["create", "overwrite", "append"])
def test_device_target_is_refused_without_opening(layout: Layout, mode: WriteMode) -> None:
    """A device node is refused (checked with lstat before any open: opening devices has effects)."""
    try:
        os.mknod(layout.workspace / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, _rel("null"), b"x", mode)
    assert info.value.reason == "not_regular_file"


def test_write_rejects_paths_not_from_check_relative_path(layout: Layout) -> None:
    """write_file re-checks its path, so a caller that skipped validation cannot escape."""
    for bad in (PurePosixPath("../x"), PurePosixPath("/etc/x"), PurePosixPath("a/./b/../c")):
        with pytest.raises(Denied):
            write_file(layout.workspace, bad, b"x", "create")
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, PurePosixPath("."), b"x", "create")
    assert info.value.reason == "reserved_name"
    assert not (layout.base / "x").exists()


def test_unknown_mode_is_refused(layout: Layout) -> None:
    """A mode outside create/overwrite/append is refused, never defaulted."""
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, _rel("a"), b"x", "truncate")  # type: ignore[arg-type]
    assert info.value.reason == "invalid_mode"


def test_io_error_message_hides_host_path(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing system call surfaces as io_error naming the errno, never the host path."""

    def no_space(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device", str(layout.workspace))

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(ToolFailure) as info:
        write_file(layout.workspace, _rel("a.txt"), b"x", "overwrite")
    assert info.value.reason == "io_error"
    assert str(layout.base) not in info.value.message
    monkeypatch.undo()
    assert [p.name for p in layout.workspace.iterdir()] == []


def test_name_of_maximum_length_can_be_overwritten(layout: Layout) -> None:
    """The temporary name is short, so a 255-byte target name still works atomically."""
    name = "n" * 255
    (layout.workspace / name).write_text("old")
    write_file(layout.workspace, _rel(name), b"new", "overwrite")
    assert (layout.workspace / name).read_bytes() == b"new"


def test_durable_false_still_writes(layout: Layout) -> None:
    """durable=False skips fsync only; the content is the same."""
    write_file(layout.workspace, _rel("a"), b"x", "create", durable=False)
    write_file(layout.workspace, _rel("a"), b"y", "overwrite", durable=False)
    write_file(layout.workspace, _rel("a"), b"z", "append", durable=False)
    assert (layout.workspace / "a").read_bytes() == b"yz"
