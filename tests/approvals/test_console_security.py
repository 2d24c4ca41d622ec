"""Who may decide: sign-in links, sessions, CSRF, Host/Origin, no agent tokens, no replay (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from secure_mcp.approvals.keys import load_or_create_key, sign
from secure_mcp.errors import ConfigError
from tests.approvals.support import Console, served, wait_pending
from tests.support import probe_spec

pytestmark = [pytest.mark.anyio, pytest.mark.process]


async def signed_in(console: Console, http: httpx2.AsyncClient) -> str:
    """Follow a sign-in link; returns the page's CSRF token."""
    response = await http.get(console.link().removeprefix(console.url))
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = await http.get("/")
    assert page.status_code == 200 and "signed in as" in page.text
    marker = 'name="csrf-token" content="'
    return page.text.split(marker, 1)[1].split('"', 1)[0]


async def pending_call(console: Console, client: Client, group: Any, name: str) -> dict[str, Any]:
    async def calling() -> None:
        await client.call_tool("probe", {"name": name})

    group.start_soon(calling)
    pending = await wait_pending(console, 1)
    return next(p for p in pending if f"create canary {name}" in p["question"])


async def test_browser_session_approves_with_csrf_and_origin(tmp_path: Path) -> None:
    canaries = tmp_path / "c"
    canaries.mkdir()
    async with served(tmp_path, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with console.client() as http, Client(console.rt.server) as client:
            csrf = await signed_in(console, http)
            async with anyio.create_task_group() as group:
                item = await pending_call(console, client, group, "a")
                body = {"id": item["id"], "digest": item["digest"], "decision": "approve"}
                origin = {"origin": console.url}
                # no CSRF token, a wrong one, no Origin, a foreign Origin, a cross-site fetch: all refused
                assert (await http.post("/api/decide", json=body, headers=origin)).status_code == 403
                bad_csrf = {**origin, "x-csrf-token": "x" * 43}
                assert (await http.post("/api/decide", json=body, headers=bad_csrf)).status_code == 403
                no_origin = {"x-csrf-token": csrf}
                assert (await http.post("/api/decide", json=body, headers=no_origin)).status_code == 403
                evil = {"x-csrf-token": csrf, "origin": "http://evil.example"}
                assert (await http.post("/api/decide", json=body, headers=evil)).status_code == 403
                cross = {"x-csrf-token": csrf, "origin": console.url, "sec-fetch-site": "cross-site"}
                assert (await http.post("/api/decide", json=body, headers=cross)).status_code == 403
                assert not (canaries / "a").exists()
                good = {"x-csrf-token": csrf, "origin": console.url}
                response = await http.post("/api/decide", json=body, headers=good)
                assert response.status_code == 200, response.text
                # replaying the same decision fails
                again = await http.post("/api/decide", json=body, headers=good)
                assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert (canaries / "a").exists()
    [answered] = console.sink.events("confirmation_answered")
    assert answered["channel"] == "console" and answered["approver"] == "alice"


async def test_sign_in_link_is_one_time_and_must_be_genuine(tmp_path: Path) -> None:
    async with served(tmp_path) as console, console.client() as http:
        link = console.link().removeprefix(console.url)
        assert (await http.get(link)).status_code == 303
        async with console.client() as other:
            assert (await other.get(link)).status_code == 403  # used
            tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
            assert (await other.get(tampered)).status_code == 403
            expired = sign(console.key, "signin", "alice", -1)
            assert (await other.get(f"/signin?t={expired}")).status_code == 403
            api_token = sign(console.key, "api", "alice", 60)  # a CLI token is not a sign-in link
            assert (await other.get(f"/signin?t={api_token}")).status_code == 403
            forged = sign(b"k" * 32, "signin", "alice", 60)
            assert (await other.get(f"/signin?t={forged}")).status_code == 403
            assert (await other.get("/")).status_code == 401
            assert (await other.get("/api/state")).status_code == 401
            assert (await other.get("/events")).status_code == 401


async def test_agent_bearer_tokens_and_foreign_hosts_are_refused(tmp_path: Path) -> None:
    async with served(tmp_path) as console, console.client() as http:
        await signed_in(console, http)
        bearer = {"authorization": "Bearer agent-token-123"}
        assert (await http.get("/api/state", headers=bearer)).status_code == 401
        assert (await http.get("/", headers=bearer)).status_code == 401
        body = {"id": "x", "digest": "y", "decision": "approve"}
        assert (await http.post("/api/decide", json=body, headers=bearer)).status_code == 401
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host
        assert (await http.get("/api/state", headers={"host": "evil.example"})).status_code == 421
        assert (await http.get("/static/console.js", headers={"host": "evil.example"})).status_code == 421
        # a CLI request signed with another key, or for an approver not on the list
        wrong = {"x-secure-mcp-approver": sign(b"z" * 32, "api", "alice", 60)}
        async with console.client() as fresh:
            assert (await fresh.get("/api/state", headers=wrong)).status_code == 401


async def test_approvers_list_limits_who_may_sign_in(tmp_path: Path) -> None:
    async with served(tmp_path, {"approvals": {"approvers": ["alice"]}}) as console, console.client() as http:
        assert (await http.get(console.link("mallory").removeprefix(console.url))).status_code == 403
        assert (await http.get("/api/state", headers=console.api_headers("mallory"))).status_code == 401
        assert (await http.get("/api/state", headers=console.api_headers("alice"))).status_code == 200


async def test_an_approval_of_one_action_cannot_run_another(tmp_path: Path) -> None:
    """Two pending calls: B's id with A's digest is refused; approving A leaves B waiting and unrun."""
    canaries = tmp_path / "c"
    canaries.mkdir()
    overrides = {"confirmation": {"timeout_s": 3}}
    async with served(tmp_path, overrides, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with Client(console.rt.server) as client:
            async with anyio.create_task_group() as group:
                a = await pending_call(console, client, group, "a")
                group.start_soon(client.call_tool, "probe", {"name": "b"})
                pending = await wait_pending(console, 2)
                b = next(p for p in pending if p["id"] != a["id"])
                moved = await console.decide(b["id"], "approve", a["digest"])
                assert moved.status_code == 409 and moved.json()["code"] == "digest_mismatch"
                assert (await console.decide(a["id"], "approve")).status_code == 200
                with anyio.fail_after(5):
                    while not (canaries / "a").exists():
                        await anyio.sleep(0.02)
                assert [p["id"] for p in (await console.state())["pending"]] == [b["id"]]
    assert not (canaries / "b").exists()  # B timed out unapproved


async def test_page_escapes_the_question(tmp_path: Path) -> None:
    """The question is attacker-influenced text: it reaches the page only as escaped JSON."""
    canaries = tmp_path / "c"
    canaries.mkdir()
    async with served(tmp_path, tools={"probe": probe_spec(canaries, confirm=True)}) as console:
        async with console.client() as http, Client(console.rt.server) as client:
            await signed_in(console, http)
            async with anyio.create_task_group() as group:
                await pending_call(console, client, group, "</script><script>alert(1)</script>")
                page = await http.get("/")
                assert "<script>alert(1)" not in page.text and "\\u003c/script\\u003e" in page.text
                assert "script-src 'self'" in page.headers["content-security-policy"]
                assert page.headers["referrer-policy"] == "no-referrer"
                item = (await console.state())["pending"][0]
                assert (await console.decide(item["id"], "deny")).status_code == 200


def test_key_file_is_private_and_refused_when_readable_by_others(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "state", create=True)
    path = tmp_path / "state" / "approvals.key"
    assert len(key) == 32 and (path.stat().st_mode & 0o777) == 0o600
    assert load_or_create_key(tmp_path / "state", create=True) == key  # stable across restarts
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        load_or_create_key(tmp_path / "state", create=False)
    with pytest.raises(ConfigError, match="does not exist"):
        load_or_create_key(tmp_path / "nowhere", create=False)


def test_state_dir_inside_the_workspace_is_refused(tmp_path: Path) -> None:
    """The approvers' key must never be where run_command or write_file can read it."""
    from secure_mcp.approvals.serving import state_dir
    from tests.support import make_config

    inside = make_config(tmp_path, {"approvals": {"state_dir": "workspace/state"}})
    with pytest.raises(ConfigError, match="inside the workspace"):
        state_dir(inside)
    assert state_dir(make_config(tmp_path, {"approvals": {"state_dir": "state"}})) == (tmp_path / "state").resolve()
