"""The Docker engine, behind blocking calls that only ever raise ``SandboxError``.

Every function here blocks; the sandbox calls them through ``anyio.to_thread``. Each engine
failure is translated once, here, into a stable reason and a message that says how to fix it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import requests.exceptions

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox.flags import LABEL

API_TIMEOUT_S = 30


def translate(exc: BaseException, image: str) -> SandboxError:
    """One engine failure as a ``SandboxError`` naming the reason and the fix."""
    if isinstance(exc, SandboxError):
        return exc
    if isinstance(exc, docker.errors.ImageNotFound):
        return SandboxError(
            "image_missing",
            f"the sandbox image '{image}' is missing; build it with `secure-mcp sandbox build`",
        )
    if isinstance(exc, docker.errors.DockerException) and not isinstance(exc, docker.errors.APIError):
        return _unreachable()
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        return _unreachable()
    if isinstance(exc, docker.errors.APIError):
        detail = str(exc.explanation or exc)
        if "runtime" in detail and ("unknown" in detail or "invalid" in detail):
            return SandboxError(
                "runtime_missing",
                "the OCI runtime named in [sandbox] runtime is not installed in Docker; "
                "install it or remove the key",
            )
        return SandboxError("engine_error", f"the Docker engine refused the sandbox: {detail[:300]}")
    return SandboxError("engine_error", f"the Docker engine failed: {type(exc).__name__}")


def _unreachable() -> SandboxError:
    return SandboxError(
        "engine_unreachable",
        "cannot reach the Docker engine; start Docker (e.g. `systemctl start docker`) "
        "or point DOCKER_HOST at it, then check with `secure-mcp doctor`",
    )


@dataclass
class Attached:
    """A created, attached and started container whose runner waits for its request."""

    container_id: str
    workspace_rw: bool
    sock: socket.socket
    _keep: Any = field(repr=False, default=None)  # the SDK object owning the HTTP response
    layer: Any = None  # the copy-on-write Layer of a read-write container (secure_mcp.sandbox.layer)
    mask_key: Any = None  # the read-only masks it was created with (secure_mcp.sandbox.flags.mask_key)

    def alive(self) -> bool:
        """Whether the attach stream is still open and silent: a local check, no engine round trip.

        The engine closes the stream when the container's process exits, so a dead pooled container
        reads as end-of-stream; a runner waiting for its request has written nothing. Under load an
        inspect call can take seconds, which is why the call's path uses this instead.
        """
        try:
            peeked = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError:
            return False
        del peeked  # end of stream (b"") or output before any request: either way not a fresh container
        return False

    def close(self) -> None:
        """Shut the attach socket so a reader blocked on it returns at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed or never connected: nothing left to wake
        self.sock.close()


class Engine:
    """A Docker client that connects lazily and reconnects after the engine comes back."""

    def __init__(self, image: str) -> None:
        self.image = image
        self._client: docker.DockerClient | None = None

    def client(self) -> docker.DockerClient:
        """The connected client; raises ``SandboxError`` when the engine does not answer."""
        if self._client is None:
            try:
                client = docker.from_env(timeout=API_TIMEOUT_S)
                client.ping()
            except Exception as exc:
                raise translate(exc, self.image) from None
            self._client = client
        return self._client

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call; a lost connection is forgotten so the next call reconnects."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            error = translate(exc, self.image)
            if error.reason == "engine_unreachable":
                self._client = None
            raise error from None

    def spawn(self, kwargs: dict[str, Any], workspace_rw: bool) -> Attached:
        """Create, attach (before start, so no byte is missed) and start one container."""
        client = self.client()
        container = self.call(client.containers.create, **kwargs)
        try:
            wrapper = self.call(
                client.api.attach_socket,
                container.id,
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1},
            )
            raw: socket.socket = getattr(wrapper, "_sock", wrapper)
            raw.settimeout(None)
            self.call(container.start)
        except BaseException:
            self.remove(container.id)
            raise
        return Attached(container.id, workspace_rw, raw, wrapper)

    def is_running(self, container_id: str) -> bool:
        """Whether the container still runs; any doubt counts as no."""
        try:
            state = self.client().api.inspect_container(container_id)["State"]
            return bool(state.get("Running")) and not state.get("Restarting")
        except Exception:
            return False

    def kill(self, container_id: str) -> None:
        """SIGKILL the container; one that already stopped or vanished is fine."""
        try:
            self.client().api.kill(container_id)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: not running
                raise translate(exc, self.image) from None
        except Exception as exc:
            raise translate(exc, self.image) from None

    def wait(self, container_id: str, timeout_s: float) -> int | None:
        """The exit status of a container whose stream has ended, or None if it cannot be known."""
        try:
            result = self.client().api.wait(container_id, timeout=timeout_s)
            return int(result["StatusCode"])
        except Exception:
            return None

    def remove(self, container_id: str) -> None:
        """Force-remove the container; a vanished one is fine, other errors are raised."""
        try:
            self.client().api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc.explanation):
                return
            raise translate(exc, self.image) from None
        except Exception as exc:
            raise translate(exc, self.image) from None

    def ours(self) -> list[dict[str, Any]]:
        """Every container, running or not, carrying the secure-mcp label."""
        result: list[dict[str, Any]] = self.call(
            self.client().api.containers, all=True, filters={"label": f"{LABEL}=1"}
        )
        return result
