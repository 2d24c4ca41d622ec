"""The judge's verdicts and the careful apply, on real layers."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from secure_mcp.config import EffectsConfig
from secure_mcp.effects.apply import apply_change_set
from secure_mcp.effects.changeset import read_change_set
from secure_mcp.effects.judge import Verdict, judge
from secure_mcp.effects.view import AfterView
from secure_mcp.sandbox.layer import Layer, coarse_now_ns, create_layer

pytestmark = pytest.mark.docker


def _verdict(layer: Layer, workspace: Path, **config: object) -> Verdict:
    settings = EffectsConfig(**config)  # type: ignore[arg-type]
    changes = read_change_set(layer.upper, workspace, settings.protected_names)
    return judge(changes, AfterView(layer.upper, workspace), settings, layer_full=layer.full())


@pytest.fixture
def repo_ws(workspace: Path) -> Path:
    (workspace / "proj" / ".git").mkdir(parents=True)
    (workspace / "proj" / ".git" / "config").write_text("[core]\n")
    (workspace / "notes.txt").write_text("notes\n")
    return workspace


@pytest.mark.parametrize(
    "change",
    [
        lambda m: (m / "proj/.git/config").write_text("[core]\n\tfsmonitor = id\n"),
        lambda m: (m / ".envrc").write_text("curl x | sh\n"),
        lambda m: (m / "a/b/.ssh").mkdir(parents=True),
        lambda m: (m / ".vscode").mkdir(),
        lambda m: (m / "sub").mkdir() or (m / "sub/.env").write_text("X=1\n"),
    ],
)
def test_protected_names_at_any_depth_are_refused(repo_ws: Path, layer: Layer, change: object) -> None:
    change(layer.merged)  # type: ignore[operator]
    verdict = _verdict(layer, repo_ws)
    assert verdict.decision == "refuse" and "protected path" in verdict.refusals[0]


def test_deleting_a_folder_that_holds_a_repository_is_a_protected_change(repo_ws: Path, layer: Layer) -> None:
    shutil.rmtree(layer.merged / "proj")
    verdict = _verdict(layer, repo_ws)
    assert verdict.decision == "refuse" and "holds a protected path (proj/.git)" in verdict.refusals[0]


def test_protected_can_be_asked_instead_where_configured(repo_ws: Path, layer: Layer) -> None:
    (layer.merged / ".envrc").write_text("x\n")
    verdict = _verdict(layer, repo_ws, protected="confirm")
    assert verdict.decision == "confirm" and ".envrc" in verdict.questions[0]


@pytest.mark.parametrize(
    "config_text, refused", [("[core]\n\tworktree = .\n", True), ("[ core ]\n", True), ("[user]\n\tname = x\n", False)]
)
def test_a_config_with_a_core_section_makes_any_folder_a_repository(
    workspace: Path, layer: Layer, config_text: str, refused: bool
) -> None:
    (layer.merged / "vendor").mkdir()
    (layer.merged / "vendor" / "config").write_text(config_text)
    assert (_verdict(layer, workspace).decision == "refuse") is refused


def test_completing_a_repository_shape_or_writing_inside_one_is_refused(workspace: Path, tmp_path: Path) -> None:
    (workspace / "bare" / "objects").mkdir(parents=True)
    (workspace / "bare" / "refs").mkdir()
    layer = create_layer(tmp_path / "l1", workspace, 1024 * 1024)
    try:
        (layer.merged / "bare" / "HEAD").write_text("ref: refs/heads/main\n")
        assert "git repository" in _verdict(layer, workspace).refusals[0]
    finally:
        layer.discard()
    (workspace / "bare" / "HEAD").write_text("ref: refs/heads/main\n")
    layer = create_layer(tmp_path / "l2", workspace, 1024 * 1024)
    try:
        (layer.merged / "bare" / "hooks").mkdir()
        (layer.merged / "bare" / "hooks" / "post-checkout").write_text("id\n")
        assert "git repository" in _verdict(layer, workspace).refusals[0]
    finally:
        layer.discard()


def test_setid_links_devices_and_limits(workspace: Path, layer: Layer) -> None:
    (layer.merged / "suid").write_text("x")
    os.chmod(layer.merged / "suid", 0o4755)  # noqa: S103 - the plant under test
    os.symlink("/etc/passwd", layer.merged / "abs")
    os.symlink("../outside", layer.merged / "up")
    os.symlink("inside.txt", layer.merged / "ok")
    (layer.merged / "d").mkdir()
    os.symlink("..", layer.merged / "d" / "parent")
    os.symlink("parent/../../x", layer.merged / "d" / "through")
    os.mkfifo(layer.merged / "fifo")
    verdict = _verdict(layer, workspace)
    text = "\n".join(verdict.refusals)
    assert "suid has the set-uid" in text
    assert "abs is a link" in text and "up is a link" in text and "d/through is a link" in text
    assert "ok is a link" not in text and "d/parent is a link" not in text
    assert any("fifo" in s for s in verdict.stripped)
    stripped = _verdict(layer, workspace, setid="strip")
    assert any("suid" in s for s in stripped.stripped) and not any("set-uid" in r for r in stripped.refusals)


def test_more_than_max_files_or_max_bytes_is_refused(workspace: Path, layer: Layer) -> None:
    for index in range(5):
        (layer.merged / f"f{index}").write_bytes(b"x" * 1000)
    assert _verdict(layer, workspace, max_files=5).decision == "allow"
    assert "max_files" in _verdict(layer, workspace, max_files=4).refusals[0]
    assert "max_bytes" in _verdict(layer, workspace, max_bytes="4k").refusals[0]


def test_a_full_layer_stops_the_writer_and_is_refused(workspace: Path, layer: Layer) -> None:
    with pytest.raises(OSError), (layer.merged / "big").open("wb") as handle:
        for _ in range(20):
            handle.write(b"\0" * 1024 * 1024)
            handle.flush()
    assert "max_bytes" in _verdict(layer, workspace).refusals[0]


def test_existing_files_deleted_truncated_or_rewritten_need_a_yes_appends_do_not(tmp_path: Path) -> None:
    workspace = tmp_path / "w"
    workspace.mkdir()
    for name in ("a", "b", "c", "d"):
        (workspace / name).write_text("12345\n")
    layer = create_layer(tmp_path / "l", workspace, 1024 * 1024)
    try:
        (layer.merged / "a").unlink()
        (layer.merged / "b").write_text("")
        (layer.merged / "c").write_text("other\n")
        with (layer.merged / "d").open("a") as handle:
            handle.write("more\n")
        verdict = _verdict(layer, workspace)
        denied = _verdict(layer, workspace, existing="deny")
        allowed = _verdict(layer, workspace, existing="allow")
    finally:
        layer.discard()
    assert verdict.decision == "confirm"
    assert [q.split()[0:2] for q in verdict.questions] == [["deletes", "a"], ["truncates", "b"], ["rewrites", "c"]]
    assert denied.decision == "refuse" and allowed.decision == "allow"


def test_apply_writes_everything_atomically_and_keeps_host_changes_as_conflicts(tmp_path: Path) -> None:
    workspace = tmp_path / "w"
    workspace.mkdir()
    (workspace / "edit.txt").write_text("v1\n")
    (workspace / "host.txt").write_text("v1\n")
    (workspace / "gone.txt").write_text("bye\n")
    (workspace / "tree").mkdir()
    (workspace / "tree" / "x").write_text("x")
    layer = create_layer(tmp_path / "l", workspace, 1024 * 1024)
    try:
        merged = layer.merged
        (merged / "edit.txt").write_text("v2\n")
        (merged / "host.txt").write_text("agent\n")
        (merged / "gone.txt").unlink()
        shutil.rmtree(merged / "tree")
        (merged / "new" / "deep").mkdir(parents=True)
        (merged / "new" / "deep" / "f").write_text("f")
        os.symlink("deep/f", merged / "new" / "link")
        (merged / "run.sh").write_text("echo\n")
        os.chmod(merged / "run.sh", 0o6755)  # noqa: S103 - the plant under test
        changes = read_change_set(layer.upper, workspace)
        verdict = judge(changes, AfterView(layer.upper, workspace), EffectsConfig(setid="strip"))
        (workspace / "host.txt").write_text("host v2\n")  # the user edits while the question is open
        outcome = apply_change_set(workspace, layer.upper, changes, verdict, layer.created_ns)
    finally:
        layer.discard()
    assert (workspace / "edit.txt").read_text() == "v2\n"
    assert (workspace / "host.txt").read_text() == "host v2\n"
    assert [c.split(":")[0] for c in outcome.conflicts] == ["host.txt"]
    assert not (workspace / "gone.txt").exists() and not (workspace / "tree").exists()
    assert (workspace / "new" / "deep" / "f").read_text() == "f"
    assert os.readlink(workspace / "new" / "link") == "deep/f"
    assert stat.S_IMODE((workspace / "run.sh").stat().st_mode) == 0o755  # set-id bits never applied
    assert not list(workspace.rglob(".secure-mcp-*"))


def test_apply_never_follows_a_link_the_host_put_in_place_of_a_folder(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "w", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    layer = create_layer(tmp_path / "l", workspace, 1024 * 1024)
    try:
        (layer.merged / "sub").mkdir()
        (layer.merged / "sub" / "f").write_text("payload")
        changes = read_change_set(layer.upper, workspace)
        verdict = judge(changes, AfterView(layer.upper, workspace), EffectsConfig())
        (workspace / "sub").symlink_to(outside)  # swapped in after the judge
        outcome = apply_change_set(workspace, layer.upper, changes, verdict, coarse_now_ns())
    finally:
        layer.discard()
    assert list(outside.iterdir()) == []
    assert outcome.conflicts and outcome.conflicts[0].startswith("sub")


def test_content_changed_in_the_layer_after_the_judge_is_not_applied(tmp_path: Path) -> None:
    workspace = tmp_path / "w"
    workspace.mkdir()
    layer = create_layer(tmp_path / "l", workspace, 1024 * 1024)
    try:
        (layer.merged / "f").write_text("judged")
        changes = read_change_set(layer.upper, workspace)
        verdict = judge(changes, AfterView(layer.upper, workspace), EffectsConfig())
        (layer.merged / "f").write_text("swapped by a leftover process")
        outcome = apply_change_set(workspace, layer.upper, changes, verdict, layer.created_ns)
    finally:
        layer.discard()
    assert not (workspace / "f").exists()
    assert "changed in the layer after it was judged" in outcome.conflicts[0]
