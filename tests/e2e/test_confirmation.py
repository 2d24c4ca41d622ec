"""Confirmation through MCP elicitation, in both protocol eras, failing closed (issue 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import CallToolRequest, CallToolRequestParams, CallToolResult
from pydantic import BaseModel, ConfigDict

from tests.support import make_config, probe_spec, reply, runtime

pytestmark = pytest.mark.anyio
ERAS = ["auto", "legacy"]  # 2026-07-28 and 2025-11-25


class RawResult(BaseModel):
    """Any result, as the wire has it: lets a test drive the 2026-07-28 retry by hand."""

    model_config = ConfigDict(extra="allow")


def refusal(result: CallToolResult) -> tuple[str, str]:
    meta = (result.meta or {}).get("secure-mcp/refusal", {})
    return meta.get("stage", ""), meta.get("reason", "")


@pytest.fixture
def canaries(tmp_path: Path) -> Path:
    folder = tmp_path / "canaries"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("mode", ERAS)
async def test_accept_with_true_runs_exactly_the_action_shown(tmp_path: Path, canaries: Path, mode: str) -> None:
    """An accept carrying approve=true runs the call, and the question named the exact action."""
    seen: list[str] = []
    tools = {"probe": probe_spec(canaries, confirm=True)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("accept", {"approve": True}, seen)) as c:
            result = await c.call_tool("probe", {"name": "ok"})
    assert not result.is_error, result
    assert (canaries / "ok").exists()
    assert len(seen) == 1 and "create canary ok" in seen[0] and "probe asks" in seen[0]


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(
    ("action", "content", "reason"),
    [
        ("decline", None, "declined"),
        ("cancel", None, "cancelled"),
        ("accept", {"approve": False}, "not_approved"),
        ("accept", {"approve": "yes"}, "malformed_answer"),
        ("accept", {}, "malformed_answer"),
    ],
)
async def test_every_answer_but_yes_refuses_and_nothing_runs(
    tmp_path: Path, canaries: Path, mode: str, action: str, content: dict[str, Any] | None, reason: str
) -> None:
    """Decline, cancel, false and malformed answers are refusals by confirm, each with its own reason."""
    tools = {"probe": probe_spec(canaries, confirm=True)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply(action, content)) as c:
            result = await c.call_tool("probe", {"name": "never"})
    assert result.is_error
    assert result.content[0].text.startswith("blocked by confirm: ")  # type: ignore[union-attr]
    assert refusal(result) == ("confirm", reason)
    assert not (canaries / "never").exists()


# No answer within [confirmation] timeout_s: each era's channel is tested on a fake clock in
# tests/core/test_confirm_timeouts.py, and the refusal it becomes in tests/core/test_pipeline.py
# (no real waiting in the suite).


@pytest.mark.parametrize("mode", ERAS)
async def test_client_without_elicitation_is_refused_with_what_to_do(tmp_path: Path, canaries: Path, mode: str) -> None:
    """A client that declared no elicitation gets a readable refusal, not a protocol error."""
    async with runtime(make_config(tmp_path), tools={"probe": probe_spec(canaries, confirm=True)}) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "never"})
    assert refusal(result) == ("confirm", "unsupported_client")
    assert result.content[0].text.startswith(  # type: ignore[union-attr]
        "blocked by confirm: this client cannot ask for confirmation; "
    )
    assert not (canaries / "never").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_when_unsupported_allow_runs_with_a_warning(tmp_path: Path, canaries: Path, mode: str) -> None:
    """With when_unsupported = "allow", a client without elicitation runs the call, warned and audited."""
    config = make_config(tmp_path, {"confirmation": {"when_unsupported": "allow"}})
    async with runtime(config, tools={"probe": probe_spec(canaries, confirm=True)}) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "allowed"})
    assert not result.is_error
    assert (canaries / "allowed").exists()
    assert any("without confirmation" in w for w in (result.structured_content or {})["warnings"])


async def test_modern_approval_cannot_be_moved_to_other_arguments(tmp_path: Path, canaries: Path) -> None:
    """A 2026-07-28 approval (sealed requestState + answer) replayed with other arguments is rejected."""
    tools = {"probe": probe_spec(canaries, confirm=True)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, elicitation_callback=reply("accept", {"approve": True})) as c:
            first = await c.session.send_request(
                CallToolRequest(params=CallToolRequestParams(name="probe", arguments={"name": "shown"})),
                RawResult,
            )
            state = (first.model_extra or {}).get("requestState")
            assert state
            answers = {"secure_mcp_confirm": {"action": "accept", "content": {"approve": True}}}
            with pytest.raises(MCPError):
                await c.session.send_request(
                    CallToolRequest(
                        params=CallToolRequestParams(
                            name="probe",
                            arguments={"name": "swapped"},
                            input_responses=answers,  # type: ignore[arg-type]
                            request_state=state,
                        )
                    ),
                    RawResult,
                )
            with pytest.raises(MCPError):
                await c.session.send_request(
                    CallToolRequest(
                        params=CallToolRequestParams(
                            name="probe",
                            arguments={"name": "shown"},
                            input_responses=answers,  # type: ignore[arg-type]
                            request_state=state[:-4] + "AAAA",
                        )
                    ),
                    RawResult,
                )
    assert not (canaries / "swapped").exists()
    assert not (canaries / "shown").exists()


async def test_modern_approval_is_single_use(tmp_path: Path, canaries: Path) -> None:
    """Replaying the exact approved retry does not run the action a second time."""
    tools = {"probe": probe_spec(canaries, confirm=True)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, elicitation_callback=reply("accept", {"approve": True})) as c:
            first = await c.session.send_request(
                CallToolRequest(params=CallToolRequestParams(name="probe", arguments={"name": "once"})),
                RawResult,
            )
            state = (first.model_extra or {}).get("requestState")
            answers = {"secure_mcp_confirm": {"action": "accept", "content": {"approve": True}}}
            retry = CallToolRequest(
                params=CallToolRequestParams(
                    name="probe",
                    arguments={"name": "once"},
                    input_responses=answers,  # type: ignore[arg-type]
                    request_state=state,
                )
            )
            ran = await c.session.send_request(retry, RawResult)
            (canaries / "once").unlink()
            replayed = await c.session.send_request(retry, RawResult)
    assert not _is_error(ran)
    assert _is_error(replayed)
    assert not (canaries / "once").exists()


def _is_error(result: RawResult) -> bool:
    return bool((result.model_extra or {}).get("isError"))


@pytest.mark.parametrize("mode", ERAS)
async def test_question_and_answer_are_audited_with_the_principal(tmp_path: Path, canaries: Path, mode: str) -> None:
    """The audit log holds the question, the answer and who answered."""
    from secure_mcp.testing import MemoryAuditSink

    sink = MemoryAuditSink()
    tools = {"probe": probe_spec(canaries, confirm=True)}
    async with runtime(make_config(tmp_path), tools=tools, sink=sink) as rt:
        async with Client(
            rt.server, mode=mode, elicitation_callback=reply("accept", {"approve": True, "reason": "fine"})
        ) as c:
            await c.call_tool("probe", {"name": "audited"})
    asked = sink.events("confirmation_asked")
    answered = sink.events("confirmation_answered")
    assert len(asked) == 1 and "create canary audited" in asked[0]["question"]
    assert len(answered) == 1 and answered[0]["answer"] == "accept" and answered[0]["approved"] is True
    assert answered[0]["reason"] == "fine" and answered[0]["principal"]
    assert len(sink.events("call_received")) >= 1 and len(sink.events("executed")) == 1


@pytest.mark.parametrize("mode", ERAS)
async def test_when_unsupported_can_be_set_per_tool(tmp_path: Path, canaries: Path, mode: str) -> None:
    """[tools.NAME] when_unsupported overrides the global setting for that tool only."""
    from secure_mcp.config import parse_config

    base = {"workspace": {"root": "workspace"}, "confirmation": {"when_unsupported": "allow"}}
    strict = parse_config({**base, "tools": {"write_file": {"when_unsupported": "deny"}}}, tmp_path)
    async with runtime(strict) as rt:
        (rt.config.workspace_root / "f.txt").write_text("old")
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("write_file", {"path": "f.txt", "content": "new", "mode": "overwrite"})
    assert refusal(result) == ("confirm", "unsupported_client")
    assert (rt.config.workspace_root / "f.txt").read_text() == "old"
