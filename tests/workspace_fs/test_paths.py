"""Lexical validation of write_file paths: every refusal reason, normalisation and deny_globs."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from secure_mcp.errors import Denied
from secure_mcp.workspace_fs import check_relative_path, matching_glob, normalise_relative

DEFAULT_GLOBS = (".git/**", "**/.ssh/**", "**/.env")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty_path"),
        ("/etc/passwd", "absolute_path"),
        ("///etc/passwd", "absolute_path"),
        ("../x", "parent_escape"),
        ("a/../../x", "parent_escape"),
        ("a/../b", "parent_escape"),
        ("a/..", "parent_escape"),
        ("a\x00b", "control_character"),
        ("a\nb", "control_character"),
        ("a\x1b[31mb", "control_character"),
        ("a\x7fb", "control_character"),
        ("a\x85b", "control_character"),
        ("a\u2028b", "control_character"),
        ("evil\u202etxt.sh", "bidi_control"),
        ("a\u2066b", "bidi_control"),
        ("a\u200bb", "bidi_control"),
        ("\ufeffa", "bidi_control"),
        ("a\udc80b", "invalid_unicode"),
        ("a\\b", "backslash"),
        ("..\\x", "backslash"),
        ("C:\\Windows\\x", "windows_path"),
        ("c:/x", "windows_path"),
        ("C:x", "windows_path"),
        ("\\\\server\\share\\x", "windows_path"),
        ("//server/share/x", "windows_path"),
        ("a" * 256, "path_too_long"),
        ("é" * 128, "path_too_long"),
        ("/".join(["a" * 200] * 21), "path_too_long"),
        ("./" * 3000 + "a", "path_too_long"),
        (".", "reserved_name"),
        ("./", "reserved_name"),
        ("././/.", "reserved_name"),
        (".git/hooks/pre-commit", "denied_glob"),
        (".git", "denied_glob"),
        (".git/config", "denied_glob"),
        (".GIT/config", "denied_glob"),
        ("./.git//config", "denied_glob"),
        ("a/.ssh/authorized_keys", "denied_glob"),
        (".ssh/authorized_keys", "denied_glob"),
        ("a/.SSH/authorized_keys", "denied_glob"),
        (".env", "denied_glob"),
        ("sub/.ENV", "denied_glob"),
        ("a/b/c/.env", "denied_glob"),
        ("\uff0eenv", "denied_glob"),  # full-width full stop: NFKC folds it to '.env'
        (".env.", "denied_glob"),  # trailing dot ignored by Windows/SMB filesystems
        (".env/inner", "denied_glob"),  # a denied name denies everything below it
    ],
)
def test_check_relative_path_refuses_with_reason(path: str, reason: str) -> None:
    """Each lexically unsafe path is refused by validate with its own stable reason code."""
    with pytest.raises(Denied) as info:
        check_relative_path(path, DEFAULT_GLOBS)
    assert (info.value.stage, info.value.reason) == ("validate", reason)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.txt", "a.txt"),
        ("./a.txt", "a.txt"),
        ("a//b///c.txt", "a/b/c.txt"),
        ("a/./b/./c", "a/b/c"),
        ("dir/", "dir"),
        ("..%2fescape", "..%2fescape"),  # percent-encoding is not decoded: a literal name
        ("...", "..."),
        ("..a", "..a"),
        ("ab:c", "ab:c"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),  # NFD is normalised to NFC
        ("envs/.env.example", "envs/.env.example"),
        ("git/config", "git/config"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("a" * 255, "a" * 255),
    ],
)
def test_check_relative_path_normalises_allowed_paths(path: str, expected: str) -> None:
    """Harmless paths pass, normalised to the exact path that will be written."""
    assert check_relative_path(path, DEFAULT_GLOBS) == PurePosixPath(expected)


def test_normalise_relative_allows_the_workspace_itself() -> None:
    """run_command's cwd may be '.', which names the workspace root."""
    assert normalise_relative(".") == PurePosixPath(".")
    assert normalise_relative("./") == PurePosixPath(".")


def test_check_relative_path_refuses_non_string() -> None:
    """A non-string path (a bug upstream) is refused, not coerced."""
    with pytest.raises(Denied) as info:
        check_relative_path(None, DEFAULT_GLOBS)  # type: ignore[arg-type]
    assert info.value.reason == "empty_path"


@pytest.mark.parametrize(
    ("parts", "globs", "expected"),
    [
        (("a", "b", ".env"), ("**/.env",), "**/.env"),
        ((".env",), ("**/.env",), "**/.env"),
        ((".git",), (".git/**",), ".git/**"),
        (("sub", ".git", "x"), (".git/**",), None),
        (("sub", ".git", "x"), ("**/.git/**",), "**/.git/**"),
        (("secrets", "deep", "x"), ("secrets",), "secrets"),
        (("a", "x.pem"), ("*.pem",), None),
        (("a", "x.pem"), ("**/*.pem",), "**/*.pem"),
        (("a", "b"), ("a/*/c",), None),
        (("x",) * 40, ("**/" * 30 + "y",), None),
        (("a",), ("",), None),
        (("A",), ("a",), "a"),
        (("STRASSE",), ("straße",), "straße"),
    ],
)
def test_matching_glob_semantics(parts: tuple[str, ...], globs: tuple[str, ...], expected: str | None) -> None:
    """'**' spans zero or more components, '*' stays in one, ancestors count, case is folded."""
    assert matching_glob(parts, globs) == expected
