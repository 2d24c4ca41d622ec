"""``Sandbox``: runs one request in one fresh container, bounded in time, output and concurrency."""

from __future__ import annotations

import contextlib
import os
import posixpath
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from secure_mcp.errors import SandboxError
from secure_mcp.sandbox.doctor import DoctorCheck, run_checks
from secure_mcp.sandbox.engine import Attached, Engine, translate
from secure_mcp.sandbox.flags import LABEL_OWNER, WORKSPACE, container_kwargs, mask_key
from secure_mcp.sandbox.image import LABEL_RUNNER, runner_digest
from secure_mcp.sandbox.io import OutputCapture, encode_request
from secure_mcp.sandbox.layer import Layer, coarse_now_ns, create_layer, layer_folder_name, sweep_dead_layer_folders
from secure_mcp.sandbox.models import BlockedExec, ProgressCallback, SandboxRequest, SandboxResult
from secure_mcp.sandbox.owner import current_owner, is_orphan
from secure_mcp.sandbox.pending import PendingChanges
from secure_mcp.sandbox.pool import WarmPool
from secure_mcp.sandbox.settings import SandboxSettings

PROGRESS_INTERVAL_S = 1.0
#: How long a call waits for a container already being started before starting its own.
POOL_WAIT_S = 1.0
EXIT_STATUS_WAIT_S = 10.0


def _is_inside_workspace(workdir: str) -> bool:
    normal = posixpath.normpath(workdir)
    return workdir.startswith("/") and (normal == WORKSPACE or normal.startswith(WORKSPACE + "/"))


def _tracer_fields(meta: dict[str, object] | None) -> dict[str, Any]:
    """SandboxResult fields from the runner's trailer: a blocked exec, the exec list, an error."""
    if not meta:
        return {}
    fields: dict[str, Any] = {}
    blocked = meta.get("blocked")
    if isinstance(blocked, dict):
        argv = blocked.get("argv")
        fields["blocked"] = BlockedExec(
            program=str(blocked.get("program", "<unknown>")),
            argv=tuple(str(arg) for arg in argv) if isinstance(argv, list) else (),
        )
    execs = meta.get("execs")
    if isinstance(execs, list):
        fields["execs"] = tuple(tuple(str(part) for part in row) for row in execs if isinstance(row, list))
    if "error" in meta:
        fields["tracer_error"] = str(meta["error"])
    return fields


class Sandbox:
    """Runs requests in hardened, single-use containers, with an optional warm pool.

    Args:
        settings: the sandbox settings.
        workspace: the host folder mounted at ``/workspace`` (must exist; it is never created).
        instance_id: names this server instance in the containers' labels.
    """

    def __init__(self, settings: SandboxSettings, workspace: Path, *, instance_id: str) -> None:
        self.settings = settings
        self.workspace = workspace.resolve()
        self.instance_id = instance_id
        self._owner = current_owner()
        self._engine = Engine(settings.image)
        # One folder per server process (several stdio servers may share one config and state folder):
        # the start-up sweep only ever touches folders of processes that are gone.
        self.layers_base = settings.layer_root or Path(tempfile.gettempdir()) / f"secure-mcp-layers-{os.getuid()}"
        self.layers = self.layers_base / layer_folder_name()
        self._layers_out: set[Layer] = set()  # handed to callers; discarded at close at the latest
        self._pool = WarmPool(
            self._engine,
            self._spawn,
            settings.warm_pool,
            tuple(mode for mode in settings.pool_modes if settings.pool_size(mode) > 0),
            spawners=settings.pool_spawners,
            sizes={True: settings.warm_pool_rw} if settings.warm_pool_rw is not None else None,
        )
        self._slots = anyio.Semaphore(settings.max_concurrent)
        self._active: dict[str, Attached] = {}
        self._removing: set[str] = set()  # finished containers whose removal waits for a pause
        self._closed = False
        self._image_current = False
        self.pending = PendingChanges()
        """Change sets waiting for a yes across protocol rounds (2026-07-28), by call id."""

    def _kwargs(self, workspace_rw: bool, layer: Path | None = None) -> dict[str, Any]:
        return container_kwargs(
            self.settings,
            workspace=self.workspace,
            workspace_rw=workspace_rw,
            instance_id=self.instance_id,
            owner=self._owner,
            layer=layer,
        )

    def _spawn(self, workspace_rw: bool) -> Attached:
        """One started container; a read-write one with its own fresh layer. Blocks."""
        if not workspace_rw:
            key = mask_key(self.workspace)
            attached = self._engine.spawn(self._kwargs(False), False)
            attached.mask_key = key
            return attached
        layer = create_layer(self.layers, self.workspace, self.settings.layer_bytes)
        self._layers_out = {kept for kept in self._layers_out if not kept.discarded}
        self._layers_out.add(layer)
        try:
            attached = self._engine.spawn(self._kwargs(True, layer.merged), True)
        except BaseException:
            layer.discard()
            raise
        attached.layer = layer
        return attached

    async def start(self) -> None:
        """Remove containers left by dead servers and start filling the warm pool.

        Never raises: with the engine down, the first call reports ``engine_unreachable``.
        """
        try:
            await anyio.to_thread.run_sync(self._sweep_orphans)
        except SandboxError:
            pass
        await anyio.to_thread.run_sync(sweep_dead_layer_folders, self.layers_base)
        self._pool.start()

    def _check_image(self) -> None:
        """Refuse an image whose runner is not this version's: exec-time enforcement lives in the
        runner, and an older one would ignore the approved set, so running it would fail open.
        Checked once per server (the label is read from the engine, about a millisecond).
        """
        image = self.settings.image
        try:
            labels = self._engine.client().api.inspect_image(image)["Config"].get("Labels") or {}
        except SandboxError:
            raise
        except Exception as exc:
            raise translate(exc, image) from None
        if labels.get(LABEL_RUNNER) != runner_digest():
            raise SandboxError(
                "image_outdated",
                f"the sandbox image {image} was built by another version of secure-mcp (its runner would not "
                "enforce the approved programs); rebuild it with `secure-mcp sandbox build`",
            )
        self._image_current = True

    def _sweep_orphans(self) -> None:
        for info in self._engine.ours():
            owner = (info.get("Labels") or {}).get(LABEL_OWNER, "")
            if is_orphan(owner, running=info.get("State") == "running"):
                self._engine.remove(info["Id"])

    async def run(self, request: SandboxRequest, progress: ProgressCallback | None = None) -> SandboxResult:
        """Run the request in a fresh container and remove the container afterwards.

        Raises:
            SandboxError: ``engine_unreachable``, ``image_missing``, ``runtime_missing``,
                ``engine_error``, ``busy`` (no slot within the timeout), ``closed``,
                ``invalid_request``. Nothing has run on the host in any of these cases.
        """
        if self._closed:
            raise SandboxError("closed", "the sandbox is shut down")
        if not _is_inside_workspace(request.workdir) or request.timeout_s < 1:
            raise SandboxError("invalid_request", "the working directory must be inside /workspace")
        if request.kind == "shell" and request.exec_mode == "enforce" and request.approved is None:
            raise SandboxError("invalid_request", "a shell request needs an approved set of programs")
        if not self._image_current:
            await anyio.to_thread.run_sync(self._check_image)
        timeout = min(request.timeout_s, self.settings.timeout_s)
        cap = max(1, min(request.max_output_bytes, self.settings.max_output_bytes))
        started = time.monotonic()
        self._pool.start()
        with anyio.move_on_after(timeout) as waiting:
            await self._slots.acquire()
        if waiting.cancelled_caught:
            raise SandboxError("busy", f"every sandbox slot stayed busy for {timeout}s; try again later")
        try:
            # Shielded: a cancel arriving mid-start must not lose track of a container it started.
            with anyio.CancelScope(shield=True):
                attached = await self._container(request.workspace_rw)
            self._pool.note_call()
            try:
                return await self._execute(attached, request, timeout, cap, started, progress)
            except BaseException:
                if attached.layer is not None:
                    attached.layer.discard()  # nobody will read this change set
                raise
        finally:
            self._pool.note_call()
            self._slots.release()

    async def _container(self, workspace_rw: bool) -> Attached:
        while (pooled := await anyio.to_thread.run_sync(self._pool.take, workspace_rw, POOL_WAIT_S)) is not None:
            fresh = workspace_rw or pooled.mask_key == mask_key(self.workspace)
            if fresh and pooled.alive():
                return pooled
            self._release(pooled)  # died while waiting, or its masks no longer match the workspace
        return await anyio.to_thread.run_sync(self._spawn, workspace_rw)

    def _release(self, attached: Attached) -> None:
        """Drop an unused container and its layer, off the caller's path."""
        attached.close()
        self._pool.discard(attached.container_id)
        if attached.layer is not None:
            attached.layer.discard()

    async def _execute(
        self,
        attached: Attached,
        request: SandboxRequest,
        timeout: int,
        cap: int,
        started: float,
        progress: ProgressCallback | None,
    ) -> SandboxResult:
        self._active[attached.container_id] = attached
        nonce = secrets.token_hex(16)
        capture = OutputCapture(attached.sock, cap, nonce)
        ended = False
        exit_code: int | None = None
        try:
            payload = encode_request(
                request.kind,
                request.source,
                request.workdir,
                nonce,
                approved=request.approved,
                exec_mode=request.exec_mode,
            )
            if attached.layer is not None:
                # Conflicts are host changes from now on: until the request arrives, the container
                # has looked nothing up in the workspace, so it sees the host's files as they are now.
                attached.layer.created_ns = coarse_now_ns()
            await anyio.to_thread.run_sync(attached.sock.sendall, payload, abandon_on_cancel=True)
            status: list[int | None] = []
            async with anyio.create_task_group() as group:
                if progress is not None:
                    group.start_soon(self._report, progress, capture, started)
                # Ask for the exit status while the output streams: the two end together.
                group.start_soon(self._exit_status, attached.container_id, timeout, status)
                with anyio.move_on_after(timeout):
                    ended = await anyio.to_thread.run_sync(capture.pump, abandon_on_cancel=True)
                if ended and capture.exit_code is not None:
                    status.append(capture.exit_code)  # the runner's trailer: no need to wait for teardown
                elif ended:
                    with anyio.move_on_after(EXIT_STATUS_WAIT_S):
                        while not status:
                            await anyio.sleep(0.002)
                group.cancel_scope.cancel()
            exit_code = status[0] if status else None
        except OSError:
            ended = False  # the container went away mid-call: report what arrived
        finally:
            with anyio.CancelScope(shield=True):
                if ended and capture.exit_code is not None:
                    # The runner's trailer came: the result is complete. The container is killed
                    # off the call's path (it may still be tearing down, or running leftovers).
                    self._finish_soon(attached)
                else:
                    await self._finish(attached, killed=not ended)
        stdout, stderr = capture.snapshot()
        return SandboxResult(
            exit_code=exit_code if ended else None,
            stdout=stdout.decode("utf-8", errors="replace"),
            stderr=stderr.decode("utf-8", errors="replace"),
            timed_out=not ended and not capture.truncated,
            truncated=capture.truncated,
            duration_ms=(time.monotonic() - started) * 1000,
            output_bytes=capture.seen,
            **_tracer_fields(capture.meta if ended else None),
            layer=attached.layer,
        )

    async def _finish(self, attached: Attached, *, killed: bool) -> None:
        """Kill (when needed) and hand the container over for removal; runs even when cancelled."""
        self._active.pop(attached.container_id, None)
        # Close the stream first: the engine blocks a kill while its copy to an unread socket is stuck.
        attached.close()
        try:
            if killed:
                await anyio.to_thread.run_sync(self._engine.kill, attached.container_id)
        finally:
            if self._closed:
                await anyio.to_thread.run_sync(self._engine.remove, attached.container_id)
            else:
                self._pool.discard(attached.container_id)

    def _finish_soon(self, attached: Attached) -> None:
        """Kill and remove the container on a helper thread; does not wait."""
        self._active.pop(attached.container_id, None)
        attached.close()

        def remove_now() -> None:
            # Done here rather than by the pool's thread, which is then free to start the next warm
            # container. Killed at once (leftover processes stop now); during a burst the removal
            # itself waits (bounded) for a pause in the calls.
            try:
                self._engine.kill(attached.container_id)
            except SandboxError:
                pass  # the forced removal below kills too
            for _ in range(20):
                pause = self._pool.quiet_for()
                if pause <= 0 or self._closed:
                    break
                time.sleep(pause)
            try:
                self._engine.remove(attached.container_id)
            except SandboxError:
                self._pool.discard(attached.container_id)  # the janitor retries (or the next start's sweep)
            finally:
                self._removing.discard(attached.container_id)

        self._removing.add(attached.container_id)
        threading.Thread(target=remove_now, name="secure-mcp-sandbox-remove", daemon=True).start()

    async def _exit_status(self, container_id: str, timeout: int, status: list[int | None]) -> None:
        code = await anyio.to_thread.run_sync(
            self._engine.wait, container_id, timeout + EXIT_STATUS_WAIT_S, abandon_on_cancel=True
        )
        status.append(code)

    async def _report(self, progress: ProgressCallback, capture: OutputCapture, started: float) -> None:
        while True:
            await anyio.sleep(PROGRESS_INTERVAL_S)
            try:
                await progress(time.monotonic() - started, capture.seen)
            except Exception:
                return  # a client that cannot take progress must not fail the call

    async def close(self) -> None:
        """Kill running calls' containers and remove every container this instance started."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            for attached in list(self._active.values()):
                try:
                    await anyio.to_thread.run_sync(self._engine.kill, attached.container_id)
                except SandboxError:
                    pass
            await anyio.to_thread.run_sync(self._pool.close)
            for container_id in list(self._removing):
                try:
                    await anyio.to_thread.run_sync(self._engine.remove, container_id)
                except SandboxError:
                    pass  # the next start's orphan sweep removes it
            self.pending.close()
            for layer in list(self._layers_out):
                layer.discard()
            self._layers_out.clear()
            with contextlib.suppress(OSError):
                self.layers.rmdir()  # this process's (now empty) layer folder

    def check(self) -> list[DoctorCheck]:
        """Checks for ``secure-mcp doctor``: engine, image, runtime, workspace. Blocks."""
        return run_checks(self.settings, self.workspace, self._engine)
