"""The MCP face: tools, schemas, annotations and the refusal format, in both protocol eras (issue 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from secure_mcp.testing import MemoryAuditSink
from tests.support import make_config, probe_spec, runtime

pytestmark = pytest.mark.anyio
ERAS = ["auto", "legacy"]


@pytest.mark.parametrize("mode", ERAS)
async def test_the_four_tools_are_listed_with_output_schemas_and_honest_hints(tmp_path: Path, mode: str) -> None:
    """tools/list shows SPEC's four names, each with an outputSchema and annotations."""
    async with runtime(make_config(tmp_path)) as rt:
        async with Client(rt.server, mode=mode) as c:
            listed = {tool.name: tool for tool in (await c.list_tools()).tools}
    assert set(listed) == {"run_command", "write_file", "execute_python", "fetch_url"}
    for tool in listed.values():
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object"
        assert tool.annotations is not None
    assert listed["fetch_url"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert listed["fetch_url"].annotations.open_world_hint is True  # type: ignore[union-attr]
    assert listed["run_command"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert listed["write_file"].annotations.read_only_hint is False  # type: ignore[union-attr]
    assert set(listed["run_command"].input_schema["properties"]) == {"command", "cwd", "timeout_s", "dry_run"}
    assert set(listed["write_file"].input_schema["properties"]) == {"path", "content", "mode"}
    assert set(listed["execute_python"].input_schema["properties"]) == {"code", "timeout_s", "dry_run"}
    assert set(listed["fetch_url"].input_schema["properties"]) == {"url", "format", "max_bytes"}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_disabled_tool_is_not_listed_and_cannot_be_called(tmp_path: Path, mode: str) -> None:
    """[tools.NAME] enabled = false removes the tool entirely."""
    config = make_config(tmp_path, {"tools": {"execute_python": {"enabled": False}}})
    async with runtime(config) as rt:
        async with Client(rt.server, mode=mode) as c:
            names = {tool.name for tool in (await c.list_tools()).tools}
            result = await c.call_tool("execute_python", {"code": "print(1)"})
    assert "execute_python" not in names
    assert result.is_error


@pytest.mark.parametrize("mode", ERAS)
async def test_a_tool_without_its_work_refuses_by_sandbox(tmp_path: Path, mode: str) -> None:
    """A tool whose work has not landed says so instead of pretending to work."""
    tools = {"probe": probe_spec(tmp_path, available=False)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "x"})
    assert result.is_error
    assert result.content[0].text == "blocked by sandbox: probe is not available yet"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ERAS)
async def test_unknown_and_wrong_arguments_are_refused_by_validate_without_echoing_them(
    tmp_path: Path, mode: str
) -> None:
    """Extra arguments are refused (not silently dropped) and the refusal never repeats the value."""
    tools = {"probe": probe_spec(tmp_path)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, mode=mode) as c:
            extra = await c.call_tool("probe", {"name": "a", "sneaky": "VALUE-ECHO-1"})
            wrong = await c.call_tool("probe", {"name": {"nested": "VALUE-ECHO-2"}})
    for result, marker in ((extra, "VALUE-ECHO-1"), (wrong, "VALUE-ECHO-2")):
        text = result.content[0].text  # type: ignore[union-attr]
        assert result.is_error and text.startswith("blocked by validate: ")
        assert marker not in text
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_an_exception_inside_a_stage_is_a_refusal_by_that_stage_without_details(
    tmp_path: Path, mode: str
) -> None:
    """A crash in the tool's own policy is refused by validate with a call id, never a traceback."""
    tools = {"probe": probe_spec(tmp_path)}
    async with runtime(make_config(tmp_path), tools=tools) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "crash"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and text.startswith("blocked by validate: internal error in the validate stage (call id ")
    assert "shadow" not in text and "Traceback" not in text


@pytest.mark.parametrize("mode", ERAS)
async def test_a_successful_call_returns_structured_content_and_is_audited_before_and_after(
    tmp_path: Path, mode: str
) -> None:
    """call_received is written before the work, executed after; the result carries structured content."""
    sink = MemoryAuditSink()
    tools = {"probe": probe_spec(tmp_path)}
    async with runtime(make_config(tmp_path), tools=tools, sink=sink) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "done", "note": "hello"})
    assert not result.is_error
    assert result.structured_content is not None and result.structured_content["created"] == "done"
    events = [r["event"] for r in sink.records]
    assert events[0] == "server_start" and events[-1] == "server_stop"
    assert events.index("call_received") < events.index("executed")


@pytest.mark.parametrize("mode", ERAS)
async def test_an_unwritable_audit_log_refuses_the_call_and_nothing_runs(tmp_path: Path, mode: str) -> None:
    """No unaudited action: when the record cannot be written the call is refused by audit."""
    sink = MemoryAuditSink()
    tools = {"probe": probe_spec(tmp_path)}
    async with runtime(make_config(tmp_path), tools=tools, sink=sink) as rt:
        sink.fail = True
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "unaudited"})
        sink.fail = False
    assert result.is_error
    assert result.content[0].text.startswith("blocked by audit: ")  # type: ignore[union-attr]
    assert not (tmp_path / "unaudited").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_secrets_in_arguments_and_output_never_leave_or_reach_the_audit_log(tmp_path: Path, mode: str) -> None:
    """A secret passed in and echoed back is masked in the result and in every audit record."""
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    sink = MemoryAuditSink()
    tools = {"probe": probe_spec(tmp_path)}
    async with runtime(make_config(tmp_path), tools=tools, sink=sink) as rt:
        async with Client(rt.server, mode=mode) as c:
            result = await c.call_tool("probe", {"name": "s", "note": f"token={secret}"})
    assert secret not in result.content[0].text  # type: ignore[union-attr]
    assert secret not in str(result.structured_content)
    assert result.structured_content is not None
    assert any(r["kind"] for r in result.structured_content["redactions"])
    assert secret not in str(sink.records)


async def test_without_docker_sandboxed_calls_are_refused_by_sandbox_never_run_on_the_host(tmp_path: Path) -> None:
    """No sandbox, no run: the refusal names the sandbox stage and nothing executes on the host."""
    marker = tmp_path / "host-marker"
    async with runtime(make_config(tmp_path), sandbox=None) as rt:
        async with Client(rt.server) as c:
            result = await c.call_tool("execute_python", {"code": f"open({str(marker)!r}, 'w')"})
    assert result.is_error and result.content[0].text.startswith("blocked by sandbox: ")  # type: ignore[union-attr]
    assert not marker.exists()
