"""An image built by another version is refused: its runner would not enforce the approved set."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import docker
import pytest

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox import Sandbox, SandboxRequest
from secure_mcp.sandbox.image import LABEL_RUNNER
from tests.sandbox.conftest import IMAGE

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


@pytest.fixture
def stale_image() -> Iterator[str]:
    """The current image re-labelled as if an older runner were baked in (no container ever runs)."""
    client = docker.from_env()
    tag = f"secure-mcp-sandbox:stale-{uuid.uuid4().hex[:8]}"
    holder = client.containers.create(IMAGE)
    try:
        repository, _, version = tag.partition(":")
        holder.commit(repository=repository, tag=version, changes=[f"LABEL {LABEL_RUNNER}=0"])
    finally:
        holder.remove(force=True)
    try:
        yield tag
    finally:
        client.images.remove(tag, force=True)


async def test_a_shell_call_on_an_image_with_another_runner_is_refused(
    make_sandbox: Callable[..., Sandbox], stale_image: str
) -> None:
    box = make_sandbox(image=stale_image, warm_pool=0)
    try:
        with pytest.raises(SandboxError) as refused:
            await box.run(SandboxRequest("shell", "touch planted", workspace_rw=True, approved=("touch",)))
    finally:
        await box.close()
    assert refused.value.reason == "image_outdated"
    assert "secure-mcp sandbox build" in refused.value.message


async def test_the_current_image_passes_the_check(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(warm_pool=0)
    try:
        result = await box.run(SandboxRequest("shell", "echo ok", approved=()))
    finally:
        await box.close()
    assert result.stdout == "ok\n"
