"""A read-write run from start to finish: run on a layer, read, judge, ask, apply (or discard).

run (sandbox, on a fresh layer) → read the change set → judge
  refuse  → discard the layer; "blocked by effects: ..." (the output is withheld too)
  dry_run → discard the layer; return the output, the change set and the verdict
  confirm → ONE question after the run (digest bound); nothing applied or returned before a yes.
            2026-07-28: the question ends the round; the run's result and layer wait in
            ``Sandbox.pending`` under the call id, and the approved retry applies them
            without running the command again
  allow   → apply (conflicts reported), discard the layer, return the output and ``changes``
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from secure_mcp.call import Plan
from secure_mcp.config import parse_size
from secure_mcp.confirm.channel import InputRequired
from secure_mcp.effects.apply import ApplyOutcome, apply_change_set
from secure_mcp.effects.changeset import ChangeSet, read_change_set
from secure_mcp.effects.judge import Verdict, judge
from secure_mcp.effects.question import build_effects_question, describe_refusal
from secure_mcp.effects.view import AfterView
from secure_mcp.errors import Denied, SandboxError
from secure_mcp.models import ProcessResult
from secure_mcp.sandbox import SandboxRequest, SandboxResult
from secure_mcp.sandbox.layer import Layer
from secure_mcp.sandbox.pending import PendingChanges
from secure_mcp.sandbox.verdict import raise_if_stopped
from secure_mcp.toolkit import ProgressReporter, ToolEnv

logger = logging.getLogger(__name__)


@dataclass
class Judged:
    """A finished read-write run waiting for its decision; owns the layer until ``discard``."""

    result: SandboxResult
    layer: Layer
    changes: ChangeSet
    verdict: Verdict
    digest: str
    question: str | None = None
    layer_kept: bool = False  # waiting in the pending store: not discarded when this round ends

    def discard(self) -> None:
        self.layer.discard_soon()


def _process_result(result: SandboxResult, **extra: Any) -> ProcessResult:
    return ProcessResult(
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        timed_out=result.timed_out,
        truncated=result.truncated,
        **extra,
    )


def _judge_layer(result: SandboxResult, layer: Layer, env: ToolEnv) -> Judged:
    """Read and judge the layer. Blocks. Any failure is a refusal by the effects stage."""
    settings = env.config.tools.run_command.effects
    try:
        changes = read_change_set(layer.upper, env.workspace, settings.protected_names)
        view = AfterView(layer.upper, env.workspace)
        verdict = judge(changes, view, settings, layer_full=layer.full())
        digest = changes.digest()
        question = None
        if verdict.decision == "confirm":
            question = build_effects_question(
                changes,
                verdict,
                digest,
                layer.upper,
                env.workspace,
                diff_chars=settings.diff_chars,
                read_limit=parse_size(settings.diff_read_limit),
            )
    except Exception as exc:
        logger.warning("could not read a change set: %s", type(exc).__name__)
        message = "the command's changes could not be read; nothing was applied"
        raise Denied("effects", "unreadable_changes", message) from None
    return Judged(result, layer, changes, verdict, digest, question)


def _store(env: ToolEnv) -> PendingChanges:
    store = getattr(env.sandbox, "pending", None)
    if isinstance(store, PendingChanges):
        return store
    raise SandboxError("no_pending_store", "this sandbox cannot hold change sets between rounds; nothing was run")


async def run_with_effects(
    request: SandboxRequest, env: ToolEnv, progress: ProgressReporter, plan: Plan, *, dry_run: bool
) -> ProcessResult:
    """Run ``request`` (read-write) and judge, ask about, apply or discard what it changed."""
    if env.sandbox is None:
        raise SandboxError("no_sandbox", "this server was started without a sandbox; nothing runs on the host")
    store = _store(env)
    held: Judged | None = store.take(plan.call_id) if plan.call_id else None
    if held is None and plan.call_id and store.spent(plan.call_id):
        raise Denied(
            "effects",
            "changes_expired",
            "this call already ran and its change set was decided or expired; nothing was run again or applied",
        )
    if held is None:
        result = await env.sandbox.run(request, progress)
        if result.blocked is not None or result.tracer_error is not None:
            if result.layer is not None:
                result.layer.discard()  # a stopped run's changes are discarded whole, unseen
            raise_if_stopped(result)
        if result.layer is None:
            raise SandboxError("layer_unavailable", "the sandbox returned a read-write run without its layer")
        layer = result.layer
        try:
            held = await anyio.to_thread.run_sync(_judge_layer, result, layer, env)
        except BaseException:
            layer.discard()
            raise
    try:
        return await _decide(held, env, plan, store, dry_run=dry_run)
    finally:
        if held is not None and not held.layer_kept:
            held.discard()


async def _decide(held: Judged, env: ToolEnv, plan: Plan, store: PendingChanges, *, dry_run: bool) -> ProcessResult:
    verdict = held.verdict
    plan.audit["effects"] = {**verdict.as_dict(), "digest": held.digest, "dry_run": dry_run}
    if dry_run:
        plan.audit["changes"] = [c.audit_dict() for c in held.changes.changes]
        return _process_result(
            held.result,
            changes=[c.as_dict() for c in held.changes.changes],
            effects={**verdict.as_dict(), "digest": held.digest, "applied": False},
            warnings=["dry run: nothing was applied"],
        )
    if verdict.decision == "refuse":
        plan.audit["changes_refused"] = [c.audit_dict() for c in held.changes.changes]
        raise Denied("effects", "changes_refused", describe_refusal(verdict))
    if verdict.decision == "confirm":
        if plan.ask_after is None or held.question is None:
            raise Denied("effects", "no_confirmation", "the command's changes need a yes and no one can be asked")
        held.layer_kept = True  # 2026-07-28: kept for the retry if the question ends this round
        store.put(plan.call_id, held, env.config.tools.run_command.effects.pending_ttl_s)
        try:
            await plan.ask_after(held.question, held.digest)
        except InputRequired:
            raise
        except BaseException:
            store.take(plan.call_id)
            held.layer_kept = False
            raise
        store.take(plan.call_id)
        held.layer_kept = False
    if held.changes.empty:
        return _process_result(held.result)
    outcome: ApplyOutcome = await anyio.to_thread.run_sync(
        apply_change_set, env.workspace, held.layer.upper, held.changes, verdict, held.layer.created_ns
    )
    plan.audit["changes"] = [c.audit_dict() for c in outcome.applied]
    if outcome.conflicts:
        plan.audit["conflicts"] = list(outcome.conflicts)
    warnings = [*verdict.stripped, *(f"conflict: {c}" for c in outcome.conflicts)]
    return _process_result(
        held.result,
        changes=[c.as_dict() for c in outcome.applied],
        conflicts=list(outcome.conflicts),
        warnings=warnings,
    )
