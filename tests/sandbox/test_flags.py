"""Unit tests of the container flags: no Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_mcp.config import SandboxConfig
from secure_mcp.sandbox.flags import ENVIRONMENT, container_kwargs
from secure_mcp.sandbox.settings import SandboxSettings


def _kwargs(workspace_rw: bool = False, **settings: object) -> dict[str, object]:
    return container_kwargs(
        SandboxSettings(**settings),  # type: ignore[arg-type]
        workspace=Path("/srv/ws"),
        workspace_rw=workspace_rw,
        instance_id="inst",
        owner="host:boot:1:2",
        layer=Path("/srv/state/layers/layer-1.merged") if workspace_rw else None,
    )


def test_every_container_is_isolated_from_network_privileges_and_root() -> None:
    """The isolation flags are present with the exact values the issue requires."""
    kwargs = _kwargs()
    assert kwargs["network_mode"] == "none"
    assert kwargs["read_only"] is True
    assert kwargs["privileged"] is False
    assert kwargs["cap_drop"] == ["ALL"]
    assert "cap_add" not in kwargs
    assert kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["init"] is True
    user = str(kwargs["user"])
    assert not user.startswith("0") and not user.startswith("root")


def test_resource_limits_come_from_settings_and_swap_equals_memory() -> None:
    """Memory, swap, CPU, pids, nofile and fsize limits follow the settings; swap adds nothing."""
    kwargs = _kwargs(memory_bytes=128 * 1024**2, cpus=0.5, pids=32, nofile=100, fsize_bytes=1024**2)
    assert kwargs["mem_limit"] == kwargs["memswap_limit"] == 128 * 1024**2
    assert kwargs["nano_cpus"] == 500_000_000
    assert kwargs["pids_limit"] == 32
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in kwargs["ulimits"]}  # type: ignore[attr-defined]
    assert ulimits["nofile"] == (100, 100)
    assert ulimits["fsize"] == (1024**2, 1024**2)


def test_tmp_is_a_small_noexec_tmpfs() -> None:
    """/tmp is the only writable place besides the workspace, size-capped and not executable."""
    options = _kwargs(tmpfs_bytes=1024**2)["tmpfs"]["/tmp"].split(",")  # type: ignore[index]
    assert {"noexec", "nosuid", "nodev", "size=1048576"} <= set(options)


@pytest.mark.parametrize("workspace_rw", [False, True])
def test_only_the_workspace_is_mounted_with_the_requested_mode(workspace_rw: bool) -> None:
    """Exactly one bind mount at /workspace: the workspace read-only, or a run's copy-on-write layer."""
    kwargs = _kwargs(workspace_rw)
    mounts = kwargs["mounts"]
    assert isinstance(mounts, list) and len(mounts) == 1
    source = "/srv/state/layers/layer-1.merged" if workspace_rw else "/srv/ws"
    assert mounts[0]["Target"] == "/workspace" and mounts[0]["Source"] == source
    assert mounts[0]["ReadOnly"] is (not workspace_rw)
    assert "volumes" not in kwargs and "devices" not in kwargs
    assert "docker.sock" not in repr(kwargs)


def test_seccomp_stays_on_and_runtime_is_used_only_when_configured() -> None:
    """Docker's default seccomp profile is never disabled; the runtime key is passed through."""
    assert not any("seccomp" in opt for opt in _kwargs()["security_opt"])  # type: ignore[attr-defined]
    assert "runtime" not in _kwargs()
    assert _kwargs(runtime="runsc")["runtime"] == "runsc"


def test_environment_is_fixed_and_carries_no_host_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The container's environment is the fixed minimal set, whatever the server's environment holds."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    kwargs = _kwargs()
    assert kwargs["environment"] == ENVIRONMENT
    assert kwargs["use_config_proxy"] is False
    assert "host-secret" not in repr(kwargs)


def test_labels_name_the_product_instance_and_owner() -> None:
    """Labels let a restart find leftovers without relying on names."""
    labels = _kwargs()["labels"]
    assert labels == {
        "secure-mcp": "1",
        "secure-mcp.instance": "inst",
        "secure-mcp.owner": "host:boot:1:2",
        "secure-mcp.workspace": "ro",
    }


def test_settings_are_built_from_the_config_section() -> None:
    """Sizes in the config are parsed to bytes; the python workspace mode is carried over."""
    config = SandboxConfig(memory="128m", tmpfs_size="8m", fsize="1m", runtime="runsc", warm_pool=0)
    settings = SandboxSettings.from_config(config, python_workspace="rw")
    assert settings.memory_bytes == 128 * 1024**2
    assert settings.tmpfs_bytes == 8 * 1024**2
    assert settings.fsize_bytes == 1024**2
    assert settings.runtime == "runsc" and settings.warm_pool == 0
    assert settings.python_workspace_rw is True


def _kwargs_for(workspace: Path, workspace_rw: bool) -> dict[str, object]:
    return container_kwargs(
        SandboxSettings(),
        workspace=workspace,
        workspace_rw=workspace_rw,
        instance_id="i",
        owner="o",
        layer=workspace.parent / "layer.merged" if workspace_rw else None,
    )


def test_a_read_write_container_never_mounts_the_workspace_itself(tmp_path: Path) -> None:
    """Without a copy-on-write layer there is no read-write container at all."""
    with pytest.raises(ValueError, match="copy-on-write layer"):
        container_kwargs(SandboxSettings(), workspace=tmp_path, workspace_rw=True, instance_id="i", owner="o")
    mounts = _kwargs_for(tmp_path, True)["mounts"]
    assert isinstance(mounts, list)
    assert [m["Source"] for m in mounts] == [str(tmp_path.parent / "layer.merged")]


def test_read_only_containers_mask_existing_git_ssh_and_env_folders(tmp_path: Path) -> None:
    """A read-only run must not read keys or repository internals; a rw run is judged by its effects."""
    (tmp_path / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / ".ssh").mkdir()
    tmpfs = _kwargs_for(tmp_path, False)["tmpfs"]
    assert isinstance(tmpfs, dict)
    assert tmpfs["/workspace/.git"].startswith("ro,") and tmpfs["/workspace/.ssh"].startswith("ro,")
    assert "/workspace/.git" not in _kwargs_for(tmp_path, True)["tmpfs"]  # type: ignore[operator]


def test_env_files_and_a_git_worktree_file_get_dev_null_and_a_symlink_is_never_a_mount_source(tmp_path: Path) -> None:
    """`.git`, `.env`, `.envrc` files get /dev/null read-only; a `.ssh` symlink is not mounted."""
    (tmp_path / ".git").write_text("gitdir: /elsewhere/.git/worktrees/x\n")
    (tmp_path / ".env").write_text("TOKEN=1\n")
    (tmp_path / ".envrc").write_text("export A=1\n")
    (tmp_path / ".ssh").symlink_to("/root/.ssh")
    kwargs = _kwargs_for(tmp_path, False)
    mounts = kwargs["mounts"]
    assert isinstance(mounts, list)
    masks = [(m["Target"], m["Source"], m["ReadOnly"]) for m in mounts if m["Target"] != "/workspace"]
    assert masks == [(f"/workspace/{name}", "/dev/null", True) for name in (".git", ".env", ".envrc")]
    assert "/workspace/.ssh" not in kwargs["tmpfs"]  # type: ignore[operator]
