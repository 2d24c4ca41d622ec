"""write_file: a file inside the workspace, never outside it, never through a link."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Literal

import anyio.to_thread
from mcp.types import ToolAnnotations
from pydantic import Field

from secure_mcp.call import Plan
from secure_mcp.errors import Denied
from secure_mcp.models import ArgsModel, ToolResult
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec
from secure_mcp.workspace_fs import (
    ExistingFile,
    append_preview,
    check_content,
    check_relative_path,
    snapshot_existing,
    unified_diff,
    write_file,
)
from secure_mcp.workspace_fs.protected import protected_write

DIFF_READ_LIMIT = 256 * 1024
PROMPT_CHARS = 4000


class WriteFileArgs(ArgsModel):
    path: Annotated[str, Field(min_length=1, max_length=4096, description="Path relative to the workspace root")]
    content: Annotated[str, Field(description="UTF-8 text to write")]
    mode: Annotated[
        Literal["create", "overwrite", "append"],
        Field(description="create fails if the file exists; overwrite and append need a human yes"),
    ] = "create"


class WriteFileResult(ToolResult):
    path: str
    bytes_written: int
    created: bool
    sha256: str


@dataclass(frozen=True, slots=True)
class _Prepared:
    rel: PurePosixPath
    data: bytes
    shown_sha256: str | None  # of the head the person saw in the diff; None when nothing was shown


def _digest(existing: ExistingFile | None) -> str | None:
    """Identifies the content the diff was made from (its head and its size)."""
    return None if existing is None else hashlib.sha256(existing.data + str(existing.size).encode()).hexdigest()


def _head_sha(env: ToolEnv, rel: PurePosixPath) -> str | None:
    return _digest(snapshot_existing(env.workspace, rel, DIFF_READ_LIMIT))


async def _protected(env: ToolEnv, rel: PurePosixPath, data: bytes, mode: str) -> list[str]:
    """The protected-path rules run_command's changes are judged by (``[tools.run_command.effects]``).

    A write into a protected name, or one that completes (or lands inside) a folder git would take
    for a repository, is refused, or needs a yes where ``protected``/``repositories`` say ``confirm``.
    For an append, a ``config`` is judged on its current head followed by what is added.
    """
    effects = env.config.tools.run_command.effects
    hit = await anyio.to_thread.run_sync(
        protected_write, env.workspace, rel, data, effects.protected_names, mode == "append"
    )
    if hit is None:
        return []
    rule = effects.repositories if hit.rule == "repository" else effects.protected
    if rule == "deny":
        raise Denied("validate", "protected_path", f"{hit.message}; refused by [tools.run_command.effects]")
    return [hit.message]


async def prepare(args: WriteFileArgs, env: ToolEnv) -> Plan:
    settings = env.config.tools.write_file
    rel = check_relative_path(args.path, settings.deny_globs)
    data = check_content(args.content, settings.max_bytes)
    protected = await _protected(env, rel, data, args.mode)
    if args.mode == "create":
        prompt = f"create {rel} ({len(data)} bytes)"
        return Plan(prompt=prompt, confirm_reasons=protected, data=_Prepared(rel, data, None))
    if args.mode == "append":
        prompt = append_preview(data, str(rel), PROMPT_CHARS)
        reasons = ["append changes an existing file", *protected]
        return Plan(prompt=prompt, confirm_reasons=reasons, data=_Prepared(rel, data, None))
    existing = await anyio.to_thread.run_sync(snapshot_existing, env.workspace, rel, DIFF_READ_LIMIT)
    old = None if existing is None else existing.data
    diff = unified_diff(old, data, str(rel), PROMPT_CHARS, old_size=None if existing is None else existing.size)
    return Plan(
        prompt=f"overwrite {rel}:\n{diff}",
        confirm_reasons=["overwrite replaces the file's content", *protected],
        data=_Prepared(rel, data, _digest(existing)),
    )


async def execute(args: WriteFileArgs, plan: Plan, env: ToolEnv, progress: ProgressReporter) -> WriteFileResult:
    prepared: _Prepared = plan.data
    if args.mode == "overwrite":
        # The yes covered the diff shown; if the file changed since, that diff is no longer true.
        now = await anyio.to_thread.run_sync(_head_sha, env, prepared.rel)
        if now != prepared.shown_sha256:
            raise Denied("confirm", "changed_since_confirmation", f"{prepared.rel} changed after the diff was shown")
    outcome = await anyio.to_thread.run_sync(write_file, env.workspace, prepared.rel, prepared.data, args.mode)
    return WriteFileResult(
        path=outcome.path, bytes_written=outcome.bytes_written, created=outcome.created, sha256=outcome.sha256
    )


SPEC = ToolSpec(
    name="write_file",
    title="Write a file in the workspace",
    description=(
        "Write a UTF-8 text file inside the workspace (path relative to it). 'create' fails if the file "
        "exists; 'overwrite' (atomic) and 'append' need a human yes. Links, '..' and protected paths "
        "such as .git/ and .env are refused."
    ),
    annotations=ToolAnnotations(
        title="Write a file in the workspace",
        read_only_hint=False,
        destructive_hint=True,
        idempotent_hint=False,
        open_world_hint=False,
    ),
    args_model=WriteFileArgs,
    result_model=WriteFileResult,
    prepare=prepare,
    execute=execute,
)
