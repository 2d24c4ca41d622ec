"""Protected paths shared by write_file and the effects judge: names at any depth, repository shapes."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from secure_mcp.workspace_fs.protected import has_core_section, protected_component, protected_write

NAMES = (".git", ".ssh", ".env", ".envrc", ".vscode", ".idea")


@pytest.mark.parametrize(
    "text, core",
    [
        ("[core]\n", True),
        ("  [ core ]  \n\tbare = true\n", True),
        ("[CORE]\nfsmonitor = x\n", True),
        ("[core.x]\n", True),
        ("[user]\n\tname = core\n# [core]\n", False),
        ("core = 1\n", False),
        ('[remote "core"]\n', False),
    ],
)
def test_a_core_section_is_found_from_the_parsed_headers_only(text: str, core: bool) -> None:
    assert has_core_section(text.encode()) is core


@pytest.mark.parametrize("path", [".git/config", "a/b/.git/hooks/x", ".ssh/authorized_keys", "x/.env", ".idea/y"])
def test_protected_names_match_whole_components_at_any_depth(path: str) -> None:
    assert protected_component(PurePosixPath(path), NAMES) is not None


@pytest.mark.parametrize("path", ["git/config", "a/.gitignore", "env", ".environment", "x.env"])
def test_similar_names_are_not_protected(path: str) -> None:
    assert protected_component(PurePosixPath(path), NAMES) is None


def test_the_create_that_completes_a_bare_repository_is_caught(tmp_path: Path) -> None:
    (tmp_path / "plant" / "objects").mkdir(parents=True)
    assert protected_write(tmp_path, PurePosixPath("plant/HEAD"), b"ref: x\n", NAMES) is None  # no refs/ yet
    (tmp_path / "plant" / "refs").mkdir()
    hit = protected_write(tmp_path, PurePosixPath("plant/HEAD"), b"ref: x\n", NAMES)
    assert hit is not None and hit.rule == "repository"
    (tmp_path / "plant" / "HEAD").write_text("ref: x\n")  # planted by other means: writes inside are caught
    hit = protected_write(tmp_path, PurePosixPath("plant/hooks/post-checkout"), b"id\n", NAMES)
    assert hit is not None and hit.rule == "repository"


def test_a_config_with_core_keys_is_caught_but_an_ordinary_config_is_not(tmp_path: Path) -> None:
    hit = protected_write(tmp_path, PurePosixPath("x/config"), b"[core]\n\tworktree = .\n", NAMES)
    assert hit is not None and hit.rule == "repository"
    assert protected_write(tmp_path, PurePosixPath("x/config"), b"[app]\nport = 1\n", NAMES) is None


def test_an_append_is_judged_on_the_whole_future_config(tmp_path: Path) -> None:
    """Appending `fsmonitor = ...` to a config that already has [core] completes the plant."""
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config").write_text("[core]\n")
    hit = protected_write(tmp_path, PurePosixPath("x/config"), b"\tfsmonitor = id\n", NAMES, append=True)
    assert hit is not None and hit.rule == "repository"
