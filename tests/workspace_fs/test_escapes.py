"""Escape attempts end to end (lexical check, then the write): nothing outside the workspace changes.

Each case builds its trap inside the workspace, runs the full check-then-write sequence the tool
runs, and compares a snapshot of everything outside the workspace before and after.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from secure_mcp.errors import Denied, SecureMCPError, ToolFailure
from secure_mcp.workspace_fs import WriteMode, check_content, check_relative_path, read_existing, write_file

from .conftest import Layout

GLOBS = (".git/**", "**/.ssh/**", "**/.env")
Trap = Callable[[Layout], None]


def _no_trap(layout: Layout) -> None:
    pass


def _link_file_to_secret(layout: Layout) -> None:
    (layout.workspace / "notes.txt").symlink_to(layout.secret)


def _link_parent_to_outside(layout: Layout) -> None:
    (layout.workspace / "sub").symlink_to(layout.outside, target_is_directory=True)


def _relative_parent_link(layout: Layout) -> None:
    (layout.workspace / "sub").symlink_to("../outside", target_is_directory=True)


def _dangling_link(layout: Layout) -> None:
    (layout.workspace / "notes.txt").symlink_to(layout.outside / "created-by-attack.txt")


def _deep_parent_link(layout: Layout) -> None:
    (layout.workspace / "a" / "b").mkdir(parents=True)
    (layout.workspace / "a" / "b" / "c").symlink_to(layout.outside, target_is_directory=True)


def _link_to_root(layout: Layout) -> None:
    (layout.workspace / "sub").symlink_to("/", target_is_directory=True)


def _git_dir(layout: Layout) -> None:
    (layout.workspace / ".git" / "hooks").mkdir(parents=True)


ESCAPES: list[tuple[str, Trap, str, str]] = [
    # (path, trap, expected reason, description)
    ("../outside/secret.txt", _no_trap, "parent_escape", "relative escape"),
    ("../escape.txt", _no_trap, "parent_escape", "relative escape to a new file"),
    (f"{'/'}etc/x", _no_trap, "absolute_path", "absolute path"),
    ("", _no_trap, "empty_path", "empty"),
    ("notes.txt", _link_file_to_secret, "symlink", "symlinked file"),
    ("sub/secret.txt", _link_parent_to_outside, "symlink", "symlinked parent (absolute target)"),
    ("sub/new.txt", _relative_parent_link, "symlink", "symlinked parent (relative target)"),
    ("notes.txt", _dangling_link, "symlink", "dangling link pointing outside"),
    ("a/b/c/secret.txt", _deep_parent_link, "symlink", "link deep in the path"),
    ("sub/etc/x", _link_to_root, "symlink", "link to /"),
    (".git/hooks/pre-commit", _git_dir, "denied_glob", "git hook"),
    ("a/.ssh/authorized_keys", _no_trap, "denied_glob", "ssh keys"),
    (".env", _no_trap, "denied_glob", ".env"),
    ("sub/.ENV", _no_trap, "denied_glob", ".env in another case"),
]


def _attempt(layout: Layout, path: str, mode: WriteMode) -> None:
    rel = check_relative_path(path, GLOBS)
    data = check_content("pwned\n", 1 << 20)
    if mode == "overwrite":
        read_existing(layout.workspace, rel, 4096)
    write_file(layout.workspace, rel, data, mode)


@pytest.mark.parametrize("mode", ["create", "overwrite", "append"])
@pytest.mark.parametrize(("path", "trap", "reason", "what"), ESCAPES, ids=[case[3] for case in ESCAPES])
def test_escape_attempt_is_refused_and_changes_nothing_outside(
    layout: Layout, path: str, trap: Trap, reason: str, what: str, mode: WriteMode
) -> None:
    """Every escape is refused by validate with its reason, in every mode, and outside is untouched."""
    trap(layout)
    before = layout.snapshot_outside()
    with pytest.raises(Denied) as info:
        _attempt(layout, path, mode)
    assert (info.value.stage, info.value.reason) == ("validate", reason)
    assert layout.snapshot_outside() == before
    assert layout.secret.read_text() == "the real secret\n"


def test_percent_encoded_dots_stay_a_literal_name_inside_the_workspace(layout: Layout) -> None:
    """'..%2f' is not decoded: it is written as a file literally named so, inside the workspace."""
    before = layout.snapshot_outside()
    rel = check_relative_path("..%2foutside%2fsecret.txt", GLOBS)
    write_file(layout.workspace, rel, b"x", "create")
    assert (layout.workspace / "..%2foutside%2fsecret.txt").read_bytes() == b"x"
    assert layout.snapshot_outside() == before


def test_hard_link_to_outside_file_is_not_appended_to(layout: Layout) -> None:
    """Append refuses a file with other hard links, so an outside inode linked in cannot grow."""
    os.link(layout.secret, layout.workspace / "linked.txt")
    before = layout.snapshot_outside()
    with pytest.raises(Denied) as info:
        write_file(layout.workspace, check_relative_path("linked.txt", GLOBS), b"pwned", "append")
    assert info.value.reason == "hard_link"
    assert layout.snapshot_outside() == before


def test_overwrite_of_hard_link_replaces_the_name_not_the_outside_inode(layout: Layout) -> None:
    """Overwrite renames a new file over the name, so the outside file sharing the inode is unchanged."""
    os.link(layout.secret, layout.workspace / "linked.txt")
    before = layout.snapshot_outside()
    write_file(layout.workspace, check_relative_path("linked.txt", GLOBS), b"new", "overwrite")
    assert (layout.workspace / "linked.txt").read_bytes() == b"new"
    assert layout.snapshot_outside() == before


def test_workspace_root_given_as_symlink_is_honoured(layout: Layout, tmp_path: Path) -> None:
    """The configured root may itself be a link (the operator's choice); writes land in its target."""
    alias = tmp_path / "alias"
    alias.symlink_to(layout.workspace, target_is_directory=True)
    write_file(alias, check_relative_path("a/b.txt", GLOBS), b"ok", "create")
    assert (layout.workspace / "a" / "b.txt").read_bytes() == b"ok"


def test_missing_workspace_root_is_a_failure_not_a_creation(tmp_path: Path) -> None:
    """A vanished root is reported, never silently recreated somewhere."""
    with pytest.raises(ToolFailure) as info:
        write_file(tmp_path / "gone", check_relative_path("a.txt", GLOBS), b"x", "create")
    assert info.value.reason == "workspace_unavailable"
    assert not (tmp_path / "gone").exists()


def test_file_in_the_way_of_a_parent_is_refused(layout: Layout) -> None:
    """A regular file where a directory is needed is refused with not_a_directory."""
    (layout.workspace / "plain").write_text("x")
    with pytest.raises(SecureMCPError) as info:
        write_file(layout.workspace, check_relative_path("plain/child.txt", GLOBS), b"x", "create")
    assert isinstance(info.value, Denied) and info.value.reason == "not_a_directory"
