"""``secure-mcp sandbox build``: the sandbox image, from a Dockerfile or offline from Debian packages.

The offline path needs no container registry: ``debootstrap`` builds a minimal Debian root with
python3 from a Debian mirror, the build strips it, adds the user and the runner by writing files
into it, and ``docker import`` turns it into an image whose config (user, command, labels) is set
with import changes. Both paths label the image with the runner's digest, so ``doctor`` can tell
an image built from another version.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import TextIO

import docker
import docker.errors

from secure_mcp.sandbox.engine import Engine
from secure_mcp.sandbox.flags import RUNNER_PATH
from secure_mcp.sandbox.rootfs import build_rootfs, detect_mirror, tar_rootfs
from secure_mcp.sandbox.settings import SANDBOX_UID, SandboxSettings

LABEL_RUNNER = "secure-mcp.runner-sha256"
LABEL_BUILD = "secure-mcp.build"
BASE_IMAGE = "python:3.12-slim-bookworm"


#: Files baked into ``/opt/secure-mcp``: the runner and the exec tracer it loads.
RUNNER_FILES = ("runner.py", "tracer.py")


def runner_source() -> bytes:
    """The runner script as shipped in this package."""
    return resources.files("secure_mcp.sandbox").joinpath("runner.py").read_bytes()


def runner_files() -> dict[str, bytes]:
    """Every file of the in-container runner, by name."""
    package = resources.files("secure_mcp.sandbox")
    return {name: package.joinpath(name).read_bytes() for name in RUNNER_FILES}


def runner_digest() -> str:
    """The digest of the runner files that images built by this version carry."""
    digest = hashlib.sha256()
    for name, content in runner_files().items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def build_image(
    settings: SandboxSettings, *, offline: bool | None, out: TextIO, mirror: str | None = None
) -> int:
    """Build ``settings.image``.

    Args:
        offline: True: from Debian packages only. False: from the Dockerfile only. None: the
            Dockerfile, falling back to offline (and saying so) when the base cannot be pulled.
        out: where progress goes (the terminal).
        mirror: Debian mirror for the offline path; default: the one apt on this machine uses.

    Returns:
        A process exit code: 0 built, 1 failed (the reason and the fix were written to ``out``).
    """
    started = time.monotonic()
    try:
        client = Engine(settings.image).client()
    except Exception as exc:
        out.write(f"error: {getattr(exc, 'message', exc)}\n")
        return 1
    try:
        if offline is not True:
            if _has_base(client, out):
                _build_dockerfile(client, settings, out)
                return _done(client, settings, out, started)
            if offline is False:
                out.write(f"error: cannot pull {BASE_IMAGE}; retry with --offline\n")
                return 1
            out.write(f"cannot pull {BASE_IMAGE}: falling back to the offline build from Debian packages\n")
        _build_offline(client, settings, out, mirror or detect_mirror())
        return _done(client, settings, out, started)
    except (OSError, RuntimeError, docker.errors.DockerException) as exc:
        out.write(f"error: the sandbox image was not built: {exc}\n")
        return 1


def _done(client: docker.DockerClient, settings: SandboxSettings, out: TextIO, started: float) -> int:
    image = client.images.get(settings.image)
    size_mb = (image.attrs.get("Size") or 0) / 1e6
    elapsed = time.monotonic() - started
    out.write(f"built {settings.image} ({image.short_id}, {size_mb:.0f} MB) in {elapsed:.0f}s\n")
    return 0


def _has_base(client: docker.DockerClient, out: TextIO) -> bool:
    try:
        client.images.get(BASE_IMAGE)
        return True
    except docker.errors.ImageNotFound:
        pass
    out.write(f"pulling {BASE_IMAGE} ...\n")
    try:
        repository, tag = BASE_IMAGE.split(":")
        client.images.pull(repository, tag=tag)
        return True
    except docker.errors.DockerException as exc:
        out.write(f"pull failed: {str(exc)[:200]}\n")
        return False


def _build_dockerfile(client: docker.DockerClient, settings: SandboxSettings, out: TextIO) -> None:
    with tempfile.TemporaryDirectory(prefix="secure-mcp-build-") as context:
        dockerfile = resources.files("secure_mcp.sandbox").joinpath("image/Dockerfile").read_bytes()
        Path(context, "Dockerfile").write_bytes(dockerfile)
        for name, content in runner_files().items():
            Path(context, name).write_bytes(content)
        out.write(f"building {settings.image} from {BASE_IMAGE} ...\n")
        client.images.build(
            path=context,
            tag=settings.image,
            buildargs={"BASE": BASE_IMAGE},
            labels={LABEL_RUNNER: runner_digest(), LABEL_BUILD: "dockerfile"},
            pull=False,
            rm=True,
            forcerm=True,
        )


def _build_offline(client: docker.DockerClient, settings: SandboxSettings, out: TextIO, mirror: str) -> None:
    with tempfile.TemporaryDirectory(prefix="secure-mcp-rootfs-", dir="/var/tmp") as work:  # noqa: S108
        root = Path(work, "root")
        build_rootfs(root, mirror, runner_files(), out)
        archive = Path(work, "rootfs.tar")
        tar_rootfs(root, archive)
        repository, _, tag = settings.image.rpartition(":")
        if not repository or "/" in tag:
            repository, tag = settings.image, "latest"
        uid = f"{SANDBOX_UID}:{SANDBOX_UID}"
        changes = [
            f"USER {uid}",
            "WORKDIR /workspace",
            "ENV PATH=/usr/local/bin:/usr/bin:/bin",
            "ENV LANG=C.UTF-8",
            "ENV PYTHONDONTWRITEBYTECODE=1",
            f'CMD ["python3", "-I", "{RUNNER_PATH}"]',
            f"LABEL {LABEL_RUNNER}={runner_digest()}",
            f"LABEL {LABEL_BUILD}=offline",
        ]
        out.write(f"importing the root filesystem as {settings.image} ...\n")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag, changes=changes)
        shutil.rmtree(root, ignore_errors=True)
