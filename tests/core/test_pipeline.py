"""The pipeline on its own: fake guards and a fake tool, so only the runner's rules are under test.

Every fake writes what happened into one shared journal, so a test asserts the order of events, what
never happened after a refusal, and the audit records of each way out (allowed, refused, crashed).
No MCP session, no Docker, no disk: this is the fast layer a change to ``pipeline.py`` meets first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations

from secure_mcp.call import Caller, Plan, ToolCall, ValidatedCall
from secure_mcp.confirm.approval import Answer
from secure_mcp.errors import Denied, Stage, ToolFailure
from secure_mcp.models import ArgsModel, ToolResult
from secure_mcp.pipeline import REFUSAL_META_KEY, Pipeline
from secure_mcp.recorder import Recorder
from secure_mcp.redaction import Redactor
from secure_mcp.stages import PlannedGuard
from secure_mcp.stages.confirm import ConfirmGuard
from secure_mcp.stages.context import RunContext
from secure_mcp.stages.validate import ValidateGuard
from secure_mcp.testing import MemoryAuditSink
from secure_mcp.toolkit import ProgressReporter, ToolEnv, ToolSpec
from tests.support import make_config

pytestmark = pytest.mark.anyio

SECRET = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
CALLER = Caller(principal="alice", transport="memory")


class Journal(list[str]):
    """What happened, in order: guard names, ``sandbox`` for the tool's work, ``audit:<event>``."""


class FakeCheck:
    """A guard before validate that records itself, and refuses or crashes when told to."""

    name: ClassVar[Stage]

    def __init__(self, journal: Journal, fault: BaseException | None = None) -> None:
        self._journal = journal
        self._fault = fault

    async def __call__(self, call: ToolCall, run: RunContext) -> None:
        self._journal.append(self.name)
        if self._fault is not None:
            raise self._fault
        call.warnings.append(f"{self.name} saw it")


class FakeAuth(FakeCheck):
    name: ClassVar[Stage] = "auth"


class FakeLimits(FakeCheck):
    name: ClassVar[Stage] = "limits"


class FakeSanitize(FakeCheck):
    name: ClassVar[Stage] = "sanitize"


class FakeApproval:
    """A guard after validate: it sees the plan (the type says so) and records what it was shown."""

    name: ClassVar[Stage] = "confirm"

    def __init__(self, journal: Journal, fault: BaseException | None = None) -> None:
        self._journal = journal
        self._fault = fault
        self.prompts: list[str] = []

    async def __call__(self, call: ValidatedCall, run: RunContext) -> None:
        self._journal.append("confirm")
        self.prompts.append(call.plan.prompt)
        if self._fault is not None:
            raise self._fault


class FakeOutputScan:
    def __init__(self, journal: Journal, fault: BaseException | None = None) -> None:
        self._journal = journal
        self._fault = fault

    def check_output(self, tool: str, fields: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        self._journal.append("sanitize:output")
        if self._fault is not None:
            raise self._fault
        return {name: text.replace("\x1b", "") for name, text in fields.items()}, ["output looked odd"]


class FakeSlots:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    @asynccontextmanager
    async def _slot(self, principal: str) -> AsyncIterator[None]:
        self._journal.append(f"slot:{principal}")
        try:
            yield
        finally:
            self._journal.append("slot:released")

    def sandbox_slot(self, principal: str) -> Any:
        return self._slot(principal)

    def asked(self, principal: str, call_id: str) -> None:
        self._journal.append(f"asked:{principal}")


class JournalRedactor:
    """The real redactor, journaled; ``fault_on_results`` breaks it for results only (not for text)."""

    def __init__(self, journal: Journal, *, fault_on_results: bool = False, broken: bool = False) -> None:
        self._journal = journal
        self._real = Redactor(environ={})
        self._fault_on_results = fault_on_results
        self._broken = broken

    def redact_value(self, value: object) -> tuple[object, dict[str, int]]:
        if self._broken or (self._fault_on_results and isinstance(value, dict)):
            raise RuntimeError(f"redactor exploded near {SECRET}")
        if isinstance(value, dict):
            self._journal.append("redact")
        return self._real.redact_value(value)


class JournalSink(MemoryAuditSink):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self._journal = journal

    async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int:
        self._journal.append(f"audit:{record.get('event')}")
        return await super().append(record, inline=inline)


class EchoArgs(ArgsModel):
    text: str


class EchoResult(ToolResult):
    echo: str


@dataclass
class FakeChannel:
    answer: Answer = field(default_factory=lambda: Answer("accept", approved=True))
    can_ask: bool = True
    questions: list[str] = field(default_factory=list)

    def continuation(self) -> dict[str, Any] | None:
        return None

    async def ask(self, call_id: str, question: str, timeout_s: float) -> Answer:
        self.questions.append(question)
        return self.answer

    @property
    def can_open_url(self) -> bool:
        return False

    async def ask_url(
        self, call_id: str, question: str, url: str, elicitation_id: str, timeout_s: float
    ) -> Answer | None:
        raise AssertionError("the fake client has no URL-mode elicitation")

    async def completed(self, elicitation_id: str) -> None:
        return None

    async def progress(self, done: float, total: float | None, message: str) -> None:
        return None

    def remember(self, digest: str) -> None:
        return None


def echo_spec(
    journal: Journal, *, fault: BaseException | None = None, sandboxed: bool = True, available: bool = True
) -> ToolSpec:
    async def prepare(args: EchoArgs, env: ToolEnv) -> Plan:
        return Plan(prompt=f"echo {args.text}", confirm_reasons=["echo asks"], audit={"echo_chars": len(args.text)})

    async def execute(args: EchoArgs, plan: Plan, env: ToolEnv, progress: ProgressReporter) -> EchoResult:
        journal.append("sandbox")
        if fault is not None:
            raise fault
        return EchoResult(echo=f"\x1b[31m{args.text}", warnings=["tool's own warning"])

    return ToolSpec(
        name="echo",
        title="echo",
        description="echoes its text",
        annotations=ToolAnnotations(read_only_hint=True),
        args_model=EchoArgs,
        result_model=EchoResult,
        prepare=prepare,
        execute=execute if available else None,
        output_fields=("echo",),
        sandboxed=sandboxed,
    )


@dataclass
class Rig:
    """One pipeline of fakes and what it wrote."""

    pipeline: Pipeline
    journal: Journal
    sink: JournalSink
    approval: FakeApproval

    async def call(self, args: Mapping[str, object], channel: FakeChannel | None = None) -> CallToolResult:
        result = await self.pipeline.run("echo", args, CALLER, channel or FakeChannel())
        assert not isinstance(result, InputRequiredResult)
        return result

    def records(self) -> list[dict[str, Any]]:
        return self.sink.records


def rig(
    tmp_path: Path,
    *,
    faults: Mapping[str, BaseException] | None = None,
    redactor: JournalRedactor | None = None,
    approvals: tuple[PlannedGuard, ...] | None = None,
    sandboxed: bool = True,
    available: bool = True,
) -> Rig:
    faults = faults or {}
    journal = Journal()
    sink = JournalSink(journal)
    config = make_config(tmp_path)
    env = ToolEnv(config=config, workspace=tmp_path, sandbox=None, redact_text=lambda text: text)
    approval = FakeApproval(journal, faults.get("confirm"))
    pipeline = Pipeline(
        checks=tuple(check(journal, faults.get(check.name)) for check in (FakeAuth, FakeLimits, FakeSanitize)),
        validate=ValidateGuard(),
        approvals=approvals if approvals is not None else (approval,),
        limits=FakeSlots(journal),
        sanitize=FakeOutputScan(journal, faults.get("sanitize:output")),
        tools={"echo": echo_spec(journal, fault=faults.get("sandbox"), sandboxed=sandboxed, available=available)},
        env=env,
        recorder=Recorder(sink, Redactor(environ={})),
        redactor=redactor or JournalRedactor(journal),
    )
    return Rig(pipeline, journal, sink, approval)


def text_of(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


def refusal_of(result: CallToolResult) -> tuple[str, str]:
    assert result.is_error
    meta = (result.meta or {})[REFUSAL_META_KEY]
    return meta["stage"], meta["reason"]


# ------------------------------------------------------------------------------------------ allowed


async def test_an_allowed_call_meets_every_stage_once_in_the_documented_order(tmp_path: Path) -> None:
    r = rig(tmp_path)
    result = await r.call({"text": "hi"})
    assert not result.is_error, text_of(result)
    assert r.journal == [
        "audit:call_received",
        "auth",
        "limits",
        "sanitize",
        "confirm",
        "slot:alice",
        "sandbox",
        "slot:released",
        "sanitize:output",
        "redact",
        "audit:executed",
    ]
    # Pipeline.order names exactly these stages (validate journals nothing: it is the real one).
    stages = [e.split(":")[0] for e in r.journal if not e.startswith("slot")]
    assert r.pipeline.order == (
        *("audit", "auth", "limits", "sanitize", "validate", "confirm"),
        *("sandbox", "sanitize", "redact", "audit"),
    )
    assert [s for s in r.pipeline.order if s != "validate"] == stages
    # The audit record times the same stages, under the same names.
    executed = r.records()[-1]
    assert executed["event"] == "executed" and set(executed["stage_ms"]) == set(r.pipeline.order)
    assert executed["echo_chars"] == 2  # the plan's audit fields are carried over


async def test_results_carry_every_warning_in_order_and_the_redaction_counts(tmp_path: Path) -> None:
    r = rig(tmp_path)
    result = await r.call({"text": f"token {SECRET}"})
    data = result.structured_content or {}
    assert data["warnings"] == [
        "auth saw it",
        "limits saw it",
        "sanitize saw it",
        "tool's own warning",
        "output looked odd",
    ]
    assert data["redactions"] == [{"kind": "github_token", "count": 1}]
    assert SECRET not in text_of(result) and "\x1b" not in data["echo"]
    assert SECRET not in str(r.records())
    assert r.approval.prompts == [f"echo token {SECRET}"]  # confirm saw the plan (redacted by the real one)


async def test_a_tool_that_is_not_sandboxed_takes_no_sandbox_slot(tmp_path: Path) -> None:
    r = rig(tmp_path, sandboxed=False)
    result = await r.call({"text": "hi"})
    assert not result.is_error
    assert "sandbox" in r.journal and not any(e.startswith("slot") for e in r.journal)


# ---------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("stage", ["auth", "limits", "sanitize", "confirm"])
async def test_a_refusal_stops_the_call_at_its_stage_and_is_recorded(tmp_path: Path, stage: Stage) -> None:
    r = rig(tmp_path, faults={stage: Denied(stage, "said_no", f"{stage} says no to {SECRET}")})
    result = await r.call({"text": "hi"})
    assert refusal_of(result) == (stage, "said_no")
    assert text_of(result) == f"blocked by {stage}: {stage} says no to [REDACTED:github_token]"
    journaled = r.journal.index(stage)
    assert r.journal[journaled + 1 :] == ["audit:refused"]  # nothing after the refusing stage
    assert "sandbox" not in r.journal
    events = [(rec["event"], rec.get("stage"), rec.get("reason")) for rec in r.records()]
    assert events == [("call_received", None, None), ("refused", stage, "said_no")]
    assert SECRET not in str(r.records())


async def test_invalid_arguments_are_refused_by_validate_before_confirm(tmp_path: Path) -> None:
    r = rig(tmp_path)
    result = await r.call({"text": "hi", "extra": 1})
    assert refusal_of(result) == ("validate", "invalid_arguments")
    assert "confirm" not in r.journal and "sandbox" not in r.journal
    assert r.journal[-1] == "audit:refused"


async def test_a_timed_out_confirmation_refuses_without_running_the_tool(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"confirmation": {"timeout_s": 7}})
    r = rig(tmp_path, approvals=(ConfirmGuard(config.confirmation, config.tools),))
    channel = FakeChannel(answer=Answer("timeout"))
    result = await r.call({"text": "hi"}, channel)
    assert refusal_of(result) == ("confirm", "timeout")
    assert text_of(result) == "blocked by confirm: no answer within 7 s"
    assert "sandbox" not in r.journal
    assert [rec["event"] for rec in r.records()] == [
        "call_received",
        "confirmation_asked",
        "confirmation_answered",
        "refused",
    ]
    assert "echo hi" in channel.questions[0]


async def test_a_tool_that_is_not_available_is_refused_by_sandbox(tmp_path: Path) -> None:
    r = rig(tmp_path, available=False)
    result = await r.call({"text": "hi"})
    assert refusal_of(result) == ("sandbox", "not_available")


async def test_an_ordinary_tool_failure_is_an_error_result_not_a_refusal(tmp_path: Path) -> None:
    r = rig(tmp_path, faults={"sandbox": ToolFailure("http_error", f"server said 500 about {SECRET}")})
    result = await r.call({"text": "hi"})
    assert result.is_error and REFUSAL_META_KEY not in (result.meta or {})
    assert text_of(result) == "echo failed: server said 500 about [REDACTED:github_token]"
    last = r.records()[-1]
    assert (last["event"], last["is_error"], last["reason"]) == ("executed", True, "http_error")
    assert "slot:released" in r.journal  # the slot came back although the tool failed


# ------------------------------------------------------------------------------------------ crashes


@pytest.mark.parametrize(
    ("fault_at", "stage"),
    [
        ("auth", "auth"),
        ("limits", "limits"),
        ("sanitize", "sanitize"),
        ("confirm", "confirm"),
        ("sandbox", "sandbox"),
        ("sanitize:output", "sanitize"),
    ],
)
async def test_a_crash_is_a_refusal_by_the_stage_that_was_running(tmp_path: Path, fault_at: str, stage: str) -> None:
    r = rig(tmp_path, faults={fault_at: RuntimeError(f"internal detail /etc/shadow {SECRET}")})
    result = await r.call({"text": "hi"})
    assert refusal_of(result) == (stage, "internal_error")
    call_id = (result.meta or {})[REFUSAL_META_KEY]["call_id"]
    assert text_of(result) == f"blocked by {stage}: internal error in the {stage} stage (call id {call_id})"
    assert "/etc/shadow" not in str(r.records()) and SECRET not in str(r.records())
    assert r.records()[-1]["event"] == "refused" and r.records()[-1]["stage"] == stage
    assert "audit:executed" not in r.journal


async def test_a_crash_in_redaction_withholds_the_result(tmp_path: Path) -> None:
    journal = Journal()
    r = rig(tmp_path, redactor=JournalRedactor(journal, fault_on_results=True))
    result = await r.call({"text": SECRET})
    assert refusal_of(result) == ("redact", "internal_error")
    assert SECRET not in text_of(result) and result.structured_content is None
    assert r.records()[-1]["event"] == "refused"


async def test_a_redactor_broken_for_everything_still_ends_in_a_refusal(tmp_path: Path) -> None:
    """Even the refusal's own text cannot be redacted: it is withheld, and nothing raises."""
    r = rig(tmp_path, redactor=JournalRedactor(Journal(), broken=True))
    result = await r.call({"text": "hi"})
    assert refusal_of(result) == ("redact", "internal_error")
    assert SECRET not in text_of(result)


# ------------------------------------------------------------------------------------------- audit


async def test_no_record_of_the_call_means_nothing_runs(tmp_path: Path) -> None:
    r = rig(tmp_path)
    r.sink.fail = True
    result = await r.call({"text": "hi"})
    assert refusal_of(result) == ("audit", "audit_unavailable")
    assert r.journal == ["audit:call_received", "audit:refused"]  # no guard ran, no tool ran


async def test_no_record_of_the_outcome_means_no_result(tmp_path: Path) -> None:
    r = rig(tmp_path)

    class FailOnExecuted(JournalSink):
        async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int:
            if record.get("event") == "executed":
                raise OSError(28, "No space left on device")
            return await super().append(record, inline=inline)

    sink = FailOnExecuted(r.journal)
    pipeline = dataclasses.replace(r.pipeline, recorder=Recorder(sink, Redactor(environ={})))
    result = await pipeline.run("echo", {"text": "hi"}, CALLER, FakeChannel())
    assert isinstance(result, CallToolResult)
    assert refusal_of(result) == ("audit", "audit_unavailable")
    assert result.structured_content is None
    assert [rec["event"] for rec in sink.records] == ["call_received", "refused"]
