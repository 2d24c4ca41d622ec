"""Lexical validation of a workspace-relative path, before any filesystem call.

This layer decides on the string alone; ``walk.py`` then enforces the same boundary on the real
filesystem (symlinks cannot be judged lexically). The result is exactly the path that gets written.

Normalisation decisions:

* a leading ``./``, repeated ``/`` and ``/./`` are collapsed; a trailing ``/`` is dropped;
* the path is normalised to Unicode NFC rather than refused: NFC and NFD spell the same visible
  name, macOS clients send NFD, and writing the NFC spelling means one visible name maps to one
  file on Linux;
* ``..`` is refused anywhere, even where it would stay inside (``a/../b``): resolving it lexically
  would disagree with the kernel once ``a`` is a symlink.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import PurePosixPath

from secure_mcp.errors import Denied
from secure_mcp.workspace_fs._chars import (
    is_bidi_control,
    is_control_character,
    is_invisible_format,
    is_surrogate,
)
from secure_mcp.workspace_fs.globs import matching_glob

NAME_MAX = 255
"""Longest component in bytes (UTF-8), as on Linux filesystems."""
PATH_MAX = 4096
"""Longest path in bytes (UTF-8), as on Linux."""

_DRIVE = re.compile(r"^[A-Za-z]:")


def _deny(reason: str, message: str) -> Denied:
    return Denied("validate", reason, message)


def _check_characters(path: str) -> None:
    for ch in path:
        if is_surrogate(ch):
            raise _deny("invalid_unicode", f"path holds a lone surrogate U+{ord(ch):04X}, not valid text")
        if is_control_character(ch):
            raise _deny("control_character", f"path holds control character U+{ord(ch):04X}")
        if is_bidi_control(ch) or is_invisible_format(ch):
            raise _deny(
                "bidi_control",
                f"path holds invisible or bidirectional format character U+{ord(ch):04X}, "
                "which would make the name display differently from what is written",
            )


def _check_windows_forms(path: str) -> None:
    if path.startswith(("\\\\", "//")) and not path.startswith("///"):
        raise _deny("windows_path", "UNC paths (\\\\server or //server) are not workspace paths")
    if _DRIVE.match(path):
        raise _deny("windows_path", "drive-letter paths (C:) are not workspace paths; give a relative path")
    if "\\" in path:
        raise _deny("backslash", "backslashes are refused; separate directories with '/'")


def _check_lengths(parts: Sequence[str]) -> None:
    for part in parts:
        if len(part.encode("utf-8")) > NAME_MAX:
            raise _deny("path_too_long", f"a path component is longer than {NAME_MAX} bytes")
    if len("/".join(parts).encode("utf-8")) >= PATH_MAX:
        raise _deny("path_too_long", f"the path is longer than {PATH_MAX - 1} bytes")


def normalise_relative(path: str) -> PurePosixPath:
    """Apply every lexical rule except ``deny_globs``; ``"."`` (the workspace itself) is allowed.

    Args:
        path: the path as the agent sent it.

    Returns:
        The normalised relative path (``PurePosixPath(".")`` for the workspace itself).

    Raises:
        Denied: stage ``validate``, with one of the reasons listed in ``check_relative_path``.
    """
    if not isinstance(path, str) or path == "":
        raise _deny("empty_path", "the path is empty")
    if len(path) >= PATH_MAX:  # bounds the work below; every character is at least one byte
        raise _deny("path_too_long", f"the path is longer than {PATH_MAX - 1} bytes")
    _check_characters(path)
    _check_windows_forms(path)
    if path.startswith("/"):
        raise _deny("absolute_path", "absolute paths are refused; give a path relative to the workspace")
    path = unicodedata.normalize("NFC", path)
    raw_parts = path.split("/")
    if ".." in raw_parts:
        raise _deny("parent_escape", "'..' components are refused; the path must stay inside the workspace")
    parts = [part for part in raw_parts if part not in ("", ".")]
    _check_lengths(parts)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def check_relative_path(path: str, deny_globs: Sequence[str]) -> PurePosixPath:
    """Validate a file path for ``write_file`` and return its normalised form.

    Args:
        path: the path as the agent sent it, relative to the workspace root.
        deny_globs: the ``[tools.write_file] deny_globs`` patterns (see ``globs.py``).

    Returns:
        The normalised relative path; this is what gets written and reported.

    Raises:
        Denied: stage ``validate``, reason one of ``empty_path``, ``absolute_path``,
            ``parent_escape``, ``control_character``, ``bidi_control``, ``invalid_unicode``,
            ``backslash``, ``windows_path``, ``path_too_long``, ``reserved_name`` (the path names
            the workspace itself) or ``denied_glob``.
    """
    rel = normalise_relative(path)
    if rel == PurePosixPath("."):
        raise _deny("reserved_name", "the path names the workspace directory itself, not a file")
    glob = matching_glob(rel.parts, deny_globs)
    if glob is not None:
        raise _deny("denied_glob", f"writing to {rel} is refused by the deny_globs pattern {glob!r}")
    return rel
