"""Every channel reaches the same decision: console, CLI-style API, form and URL elicitation (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, ElicitResult

from tests.approvals.support import Console, served, wait_pending
from tests.support import probe_spec

pytestmark = [pytest.mark.anyio, pytest.mark.process]
ERAS = ["auto", "legacy"]  # 2026-07-28 and 2025-11-25


def refusal(result: CallToolResult) -> tuple[str, str]:
    meta = (result.meta or {}).get("secure-mcp/refusal", {})
    return meta.get("stage", ""), meta.get("reason", "")


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


async def call_while(console: Console, client: Client, name: str, decide: Any) -> CallToolResult:
    """Start the call, run ``decide(pending)`` once it shows in the console, return the call's result."""
    results: list[CallToolResult] = []

    async def calling() -> None:
        results.append(await client.call_tool("probe", {"name": name}))

    async with anyio.create_task_group() as group:
        group.start_soon(calling)
        [pending] = await wait_pending(console)
        await decide(pending)
    return results[0]


@pytest.mark.parametrize("mode", ERAS)
async def test_client_without_elicitation_runs_after_a_console_approval(tmp_path: Path, mode: str) -> None:
    """Claude Desktop's situation: no elicitation; the call waits, a person approves in the console, it runs."""
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    async with served(tmp_path, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode) as client:

            async def approve(pending: dict[str, Any]) -> None:
                assert pending["tool"] == "probe" and "create canary yes" in pending["question"]
                assert (canaries / "yes").exists() is False
                response = await console.decide(pending["id"], "approve")
                assert response.status_code == 200, response.text

            result = await call_while(console, client, "yes", approve)
        assert not result.is_error, result
        assert (canaries / "yes").exists()
        [answered] = console.sink.events("confirmation_answered")
        assert answered["channel"] == "cli" and answered["approver"] == "alice" and answered["approved"] is True
        assert answered["waited_ms"] is not None and answered["waited_ms"] >= 0
        [asked] = console.sink.events("confirmation_asked")
        assert asked["decision_id"] == answered["decision_id"] is not None
        state = await console.state()
        assert state["pending"] == [] and state["recent"][0]["approver"] == "alice"


@pytest.mark.parametrize("mode", ERAS)
async def test_a_console_deny_refuses_and_nothing_runs(tmp_path: Path, mode: str) -> None:
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    async with served(tmp_path, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode) as client:

            async def deny(pending: dict[str, Any]) -> None:
                assert (await console.decide(pending["id"], "deny")).status_code == 200

            result = await call_while(console, client, "no", deny)
    assert refusal(result) == ("confirm", "not_approved")
    assert text(result) == "blocked by confirm: the approver answered no"
    assert not (canaries / "no").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_no_decision_times_out_into_a_refusal_naming_the_console(tmp_path: Path, mode: str) -> None:
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    overrides = {"confirmation": {"timeout_s": 1}}
    async with served(tmp_path, overrides, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        notes: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            notes.append(message or "")

        async with Client(console.rt.server, mode=mode) as client:
            with anyio.fail_after(10):
                result = await client.call_tool("probe", {"name": "late"}, progress_callback=on_progress)
        assert refusal(result) == ("confirm", "timeout")
        assert f"approval console at {console.url}/" in text(result)
        assert notes and all(console.url in message for message in notes)
        state = await console.state()
        assert state["pending"] == [] and state["recent"][0]["state"] == "expired"
        # too late: the expired call can no longer be approved
        recent = state["recent"][0]
        assert (await console.decide(recent["id"], "approve", recent["digest"])).status_code == 409
    assert not (canaries / "late").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_console_wins_over_a_form_the_client_has_not_answered(tmp_path: Path, mode: str) -> None:
    """channel = both: the form is shown AND the call is in the console; the console answers first."""
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    decided = anyio.Event()
    shown: list[str] = []

    async def slow_person(context: Any, params: Any) -> ElicitResult:
        shown.append(params.message)
        await decided.wait()  # the person at the client is slower than the approver
        return ElicitResult(action="decline")

    async with served(tmp_path, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode, elicitation_callback=slow_person) as client:

            async def approve(pending: dict[str, Any]) -> None:
                assert (await console.decide(pending["id"], "approve")).status_code == 200
                decided.set()

            result = await call_while(console, client, "first", approve)
    assert not result.is_error, result
    assert (canaries / "first").exists()
    assert shown and "or decide in the approval console: " + console.url in shown[0]


@pytest.mark.parametrize("mode", ERAS)
async def test_form_answer_first_closes_the_console_entry(tmp_path: Path, mode: str) -> None:
    """The client answers first: the console shows it decided through elicitation and refuses a late click."""
    canaries = tmp_path / "canaries"
    canaries.mkdir()

    async def quick(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"approve": True})

    async with served(tmp_path, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode, elicitation_callback=quick) as client:
            result = await client.call_tool("probe", {"name": "form"})
        assert not result.is_error, result
        [recent] = (await console.state())["recent"]
        assert recent["channel"] == "elicitation" and recent["approved"] is True
        late = await console.decide(recent["id"], "deny", recent["digest"])
        assert late.status_code == 409 and late.json()["code"] == "already_decided"
    assert (canaries / "form").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_url_mode_client_gets_the_console_link_for_that_call(tmp_path: Path, mode: str) -> None:
    """channel = console: a client declaring URL-mode elicitation is sent to the console page of the call."""
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    urls: list[str] = []
    holder: dict[str, Console] = {}

    async def opens_link(context: Any, params: Any) -> ElicitResult:
        assert params.mode == "url"
        urls.append(params.url)
        decision_id = params.url.rsplit("=", 1)[1]
        assert params.elicitation_id in (decision_id, None)  # 2026-07-28 drops the id from the wire
        response = await holder["console"].decide(decision_id, "approve")  # the person, in the browser
        assert response.status_code == 200, response.text
        return ElicitResult(action="accept")

    overrides = {"confirmation": {"channel": "console"}}
    async with served(tmp_path, overrides, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        holder["console"] = console
        async with Client(console.rt.server, mode=mode, elicitation_callback=opens_link) as client:
            with anyio.fail_after(15):
                result = await client.call_tool("probe", {"name": "via-url"})
    assert not result.is_error, result
    assert (canaries / "via-url").exists()
    assert len(urls) == 1 and urls[0].startswith(console.url + "/?call=")
    assert "signin" not in urls[0] and "t=" not in urls[0]  # the link passes through the agent: no credential


@pytest.mark.parametrize("mode", ERAS)
async def test_url_mode_decline_refuses(tmp_path: Path, mode: str) -> None:
    canaries = tmp_path / "canaries"
    canaries.mkdir()

    async def declines(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    overrides = {"confirmation": {"channel": "console"}}
    async with served(tmp_path, overrides, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode, elicitation_callback=declines) as client:
            with anyio.fail_after(15):
                result = await client.call_tool("probe", {"name": "nope"})
    assert refusal(result) == ("confirm", "declined")
    assert not (canaries / "nope").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_when_unsupported_allow_still_runs_without_waiting(tmp_path: Path, mode: str) -> None:
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    overrides = {"confirmation": {"when_unsupported": "allow"}}
    async with served(tmp_path, overrides, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode) as client:
            with anyio.fail_after(5):
                result = await client.call_tool("probe", {"name": "unasked"})
        assert (await console.state())["pending"] == []
    assert not result.is_error and (canaries / "unasked").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_channel_elicitation_keeps_the_console_out(tmp_path: Path, mode: str) -> None:
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    overrides = {"confirmation": {"channel": "elicitation"}}
    async with served(tmp_path, overrides, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server, mode=mode) as client:
            result = await client.call_tool("probe", {"name": "never"})
        assert (await console.state())["pending"] == []
    assert refusal(result) == ("confirm", "unsupported_client")
    assert 'channel = "elicitation"' in text(result)
    assert not (canaries / "never").exists()
