"""Docker fixtures: tests marked ``docker`` skip without an engine and image, unless CI requires them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import docker
import pytest

from secure_mcp.sandbox import Sandbox, SandboxSettings
from secure_mcp.sandbox.flags import LABEL_INSTANCE
from tests.support import SANDBOX_IMAGE, docker_problem

IMAGE = SANDBOX_IMAGE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip Docker tests when there is no engine, unless SECURE_MCP_REQUIRE_DOCKER=1 makes that a failure."""
    docker_items = [item for item in items if item.get_closest_marker("docker") and "sandbox" in item.nodeid]
    if not docker_items:
        return
    problem = docker_problem()
    if problem is None:
        return
    if os.environ.get("SECURE_MCP_REQUIRE_DOCKER") == "1":
        raise pytest.UsageError(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
    for item in docker_items:
        item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace the sandbox user (uid 10001) may read and write."""
    root = tmp_path / "workspace"
    root.mkdir()
    tmp_path.chmod(0o755)
    root.chmod(0o777)
    return root


@pytest.fixture
def make_sandbox(workspace: Path) -> Callable[..., Sandbox]:
    """Build a sandbox with a unique instance id and test-friendly settings."""

    def make(**overrides: object) -> Sandbox:
        values: dict[str, object] = {"image": IMAGE, "warm_pool": 1, "timeout_s": 30}
        values.update(overrides)
        settings = SandboxSettings(**values)  # type: ignore[arg-type]
        return Sandbox(settings, workspace, instance_id=f"test-{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture
async def sandbox(make_sandbox: Callable[..., Sandbox]) -> AsyncIterator[Sandbox]:
    """A started sandbox with a one-container pool per mount mode, closed (and emptied) afterwards."""
    box = make_sandbox()
    await box.start()
    try:
        yield box
    finally:
        await box.close()
        # A finished call's container is removed by a helper thread that close() does not wait for.
        with anyio.move_on_after(15):
            while instance_containers(box.instance_id):
                await anyio.sleep(0.2)
        assert instance_containers(box.instance_id) == []


def instance_containers(instance_id: str, *, running_only: bool = False) -> list[dict[str, object]]:
    """The engine's containers carrying this instance's label."""
    client = docker.from_env(timeout=10)
    found: list[dict[str, object]] = client.api.containers(
        all=not running_only, filters={"label": f"{LABEL_INSTANCE}={instance_id}"}
    )
    return found
