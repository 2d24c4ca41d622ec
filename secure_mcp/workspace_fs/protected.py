"""Protected paths: what no agent write may create or change without a person deciding.

One rule set for ``write_file`` and for the change set of a read-write run, because a file acts on
the host later, outside the sandbox: a git hook or ``core.fsmonitor`` runs at the user's next
``git`` command, an ``authorized_keys`` grants a login, ``.envrc`` runs in the user's shell,
``.vscode/tasks.json`` runs in the editor.

Two shapes are protected:

* a path with a protected name as any component, at any depth (``.git``, ``.ssh``, ``.env``...);
* a folder git would accept as a repository whatever its name: ``HEAD`` next to ``objects/`` and
  ``refs/`` (what git's own discovery checks), or a ``config`` with a ``[core]`` section (bare-repo
  plants set ``core.worktree`` and ``core.fsmonitor`` there). Decided on the parsed section
  headers, never on a substring.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from secure_mcp.workspace_fs.read import snapshot_existing

Kind = Literal["file", "dir", "link", "other"]


def kind_of_mode(mode: int) -> Kind:
    """The kind an ``lstat`` mode names (fifos, sockets and devices are all "other")."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"
#: Looks up what a workspace-relative path is (after the change): a kind, or None when absent.
KindOf = Callable[[PurePosixPath], "Kind | None"]
#: Reads (the head of) a workspace-relative regular file after the change, or None.
ReadHead = Callable[[PurePosixPath], "bytes | None"]

REPO_MARKERS = ("HEAD", "objects", "refs", "config")
CONFIG_READ_LIMIT = 64 * 1024


def protected_component(path: PurePosixPath, names: Iterable[str]) -> str | None:
    """The first component of ``path`` that is a protected name, or None."""
    wanted = set(names)
    for part in path.parts:
        if part in wanted:
            return part
    return None


def _section_name(line: str) -> str | None:
    """The section of a git-config header line (``[core]``, ``[ core ]``, ``[remote "x"]``), or None."""
    text = line.strip()
    if not text.startswith("["):
        return None
    end = text.find("]")
    if end < 0:
        return None
    inner = text[1:end].strip()
    name = inner.split(None, 1)[0] if inner else ""
    name = name.split(".", 1)[0]  # [core.x] is the old subsection form of section core
    return name.strip('"').lower() or None


def has_core_section(data: bytes) -> bool:
    """Whether git-config text declares a ``core`` section (undecodable bytes count as yes: fail closed)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return any(_section_name(line) == "core" for line in text.splitlines())


def is_repository(folder: PurePosixPath, kind_of: KindOf, read_head: ReadHead) -> bool:
    """Whether git would take ``folder`` (after the change) for a repository.

    A link counts as whatever git might find behind it (fail closed).
    """
    head = kind_of(folder / "HEAD")
    objects = kind_of(folder / "objects")
    refs = kind_of(folder / "refs")
    if head in ("file", "link") and objects in ("dir", "link") and refs in ("dir", "link"):
        return True
    config = kind_of(folder / "config")
    if config == "link":
        return True
    if config == "file":
        data = read_head(folder / "config")
        return data is not None and has_core_section(data)
    return False


def enclosing_folders(path: PurePosixPath, *, itself: bool = True) -> list[PurePosixPath]:
    """Every folder a change at ``path`` lies in (root first), plus ``path`` itself if ``itself``.

    A change anywhere inside a repository acts on it (a hook, a config, a ref), and a change to
    ``D/HEAD``, ``D/config``, ``D/objects/...`` or ``D/refs/...`` may complete D's shape; so every
    enclosing folder is checked, and the path itself when it may be a folder.
    """
    parts = path.parts
    folders = [PurePosixPath(".")]
    last = len(parts) + 1 if itself else len(parts)
    folders += [PurePosixPath(*parts[:index]) for index in range(1, last)]
    return folders


@dataclass(frozen=True)
class ProtectedHit:
    """Why a path is protected: a protected ``name`` on the way, or inside a ``repository`` shape."""

    rule: Literal["name", "repository"]
    message: str


def protected_reason(
    path: PurePosixPath,
    names: Iterable[str],
    kind_of: KindOf,
    read_head: ReadHead,
    cache: dict[PurePosixPath, bool] | None = None,
    *,
    is_file: bool = False,
) -> ProtectedHit | None:
    """Why a change at ``path`` touches a protected path (for the refusal or question), or None.

    ``is_file``: the change leaves a file (or link) at ``path``, so ``path`` is no repository itself.
    """
    name = protected_component(path, names)
    if name is not None:
        return ProtectedHit("name", f"{path} is inside a protected path ({name})")
    known = {} if cache is None else cache
    for folder in enclosing_folders(path, itself=not is_file):
        if folder not in known:
            known[folder] = is_repository(folder, kind_of, read_head)
        if known[folder]:
            shown = "the workspace root" if folder == PurePosixPath(".") else str(folder)
            message = f"{path} would be part of a git repository ({shown} has the shape git accepts)"
            return ProtectedHit("repository", message)
    return None


def _host_kind(root: Path, rel: PurePosixPath) -> Kind | None:
    """What ``root/rel`` is on the host, never following a link on the way (a link is "link")."""
    current = root
    for index, part in enumerate(rel.parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        if index == len(rel.parts) - 1 or stat.S_ISLNK(mode):
            return kind_of_mode(mode)
        if not stat.S_ISDIR(mode):
            return None
    return "dir"


def protected_write(
    root: Path, rel: PurePosixPath, data: bytes, names: Iterable[str], append: bool = False
) -> ProtectedHit | None:
    """``protected_reason`` for write_file: the workspace as it would be once ``data`` is at ``rel``.

    With ``append``, the file's future head is its current head followed by ``data``.
    """

    def kind_of(path: PurePosixPath) -> Kind | None:
        return "file" if path == rel else _host_kind(root, path)

    def read_head(path: PurePosixPath) -> bytes | None:
        if path == rel:
            current = snapshot_existing(root, rel, CONFIG_READ_LIMIT) if append else None
            return ((current.data if current is not None else b"") + data)[:CONFIG_READ_LIMIT]
        snapshot = snapshot_existing(root, path, CONFIG_READ_LIMIT)
        return None if snapshot is None else snapshot.data

    return protected_reason(rel, names, kind_of, read_head, is_file=True)
