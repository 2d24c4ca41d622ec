"""In a real browser: approve and deny real pending calls from real MCP clients (issue 16).

Servers are real ``secure-mcp serve`` subprocesses (stdio and streamable HTTP); clients are the
Python SDK's, in both protocol eras, declaring no elicitation (Claude Desktop's situation), so the
console is the only way to a yes. Chromium signs in with a link from ``secure-mcp approvals url``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.approvals.browser import browser_page, cli, console_url, need_browser, sign_in, stdio_params, write_config
from tests.http.servers import AGENT, Token, http_server, sdk_client
from tests.http.servers import write_config as write_http_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ERAS = ["auto", "legacy"]


def refusal(result: CallToolResult) -> tuple[str, str]:
    meta = (result.meta or {}).get("secure-mcp/refusal", {})
    return meta.get("stage", ""), meta.get("reason", "")


@pytest.mark.parametrize("mode", ERAS)
async def test_no_elicitation_client_completes_an_overwrite_after_a_browser_approval(tmp_path: Path, mode: str) -> None:
    """stdio, no elicitation: write_file mode=overwrite waits, the diff is shown, `a` approves, it is written."""
    need_browser()
    config = write_config(tmp_path)
    target = tmp_path / "workspace" / "notes.txt"
    target.write_text("keep\nold line\n")
    results: list[CallToolResult] = []
    with stdio_params(config) as params:
        async with Client(params, mode=mode) as client, browser_page() as page:

            async def calling() -> None:
                args = {"path": "notes.txt", "content": "keep\nnew line\n", "mode": "overwrite"}
                results.append(await client.call_tool("write_file", args))

            async with anyio.create_task_group() as group:
                group.start_soon(calling)
                await console_url(tmp_path)
                await sign_in(page, config)
                card = page.locator("li.card").first
                await card.wait_for(timeout=15000)
                assert "write_file" in await card.locator(".tool").inner_text()
                assert await card.locator(".d-del").first.inner_text() == "-old line"
                assert await card.locator(".d-add").first.inner_text() == "+new line"
                assert target.read_text() == "keep\nold line\n"  # nothing written before the yes
                await page.keyboard.press("a")  # the keyboard shortcut, as an approver would
                await page.locator("table.recent .o-approved").first.wait_for(timeout=15000)
    [result] = results
    assert not result.is_error, result
    assert target.read_text() == "keep\nnew line\n"


@pytest.mark.parametrize("mode", ERAS)
async def test_streamable_http_call_denied_in_the_browser(tmp_path: Path, mode: str) -> None:
    """streamable HTTP with a bearer token: the call is denied with the Deny button and nothing is written."""
    need_browser()
    agent = Token("agent", AGENT.secret, ("write_file",))
    config = write_http_config(
        tmp_path, (agent,), '[approvals]\nport = 0\nstate_dir = "state"\n[confirmation]\ntimeout_s = 60\n'
    )
    target = tmp_path / "workspace" / "f.txt"
    target.write_text("old\n")
    results: list[CallToolResult] = []
    with http_server(config, "streamable-http") as served:
        async with sdk_client(served, agent.secret, mode=mode) as client, browser_page() as page:

            async def calling() -> None:
                args = {"path": "f.txt", "content": "new\n", "mode": "overwrite"}
                results.append(await client.call_tool("write_file", args))

            async with anyio.create_task_group() as group:
                group.start_soon(calling)
                url = await console_url(tmp_path)
                # the agent's bearer token does not open the console
                status = await page.request.get(f"{url}/api/state", headers={"authorization": f"Bearer {agent.secret}"})
                assert status.status == 401
                # sign in with the one-time link the server printed on stderr at start
                [log] = list(tmp_path.glob("server-streamable-http-*.log"))
                links = [w for w in log.read_text().split() if "/signin?t=" in w]
                assert links and links[0].startswith(url + "/signin?t=")
                await page.goto(links[0])
                card = page.locator("li.card").first
                await card.wait_for(timeout=15000)
                assert "agent" in await card.locator(".principal").inner_text()
                await card.locator("button.deny").click()
                await page.locator("table.recent .o-denied").first.wait_for(timeout=15000)
    [result] = results
    assert refusal(result) == ("confirm", "not_approved")
    assert target.read_text() == "old\n"


async def test_cli_lists_and_approves_from_a_terminal(tmp_path: Path) -> None:
    """`secure-mcp approvals list` shows the id first; `approve ID` shows the action and lets the call run."""
    config = write_config(tmp_path)
    target = tmp_path / "workspace" / "a.txt"
    target.write_text("one\n")
    results: list[CallToolResult] = []
    with stdio_params(config) as params:
        async with Client(params) as client:

            async def calling() -> None:
                results.append(
                    await client.call_tool("write_file", {"path": "a.txt", "content": "two\n", "mode": "append"})
                )

            async with anyio.create_task_group() as group:
                group.start_soon(calling)
                await console_url(tmp_path)
                with anyio.fail_after(20):
                    while True:
                        listed = await anyio.to_thread.run_sync(cli, config, "list")
                        assert listed.returncode == 0, listed.stderr
                        if listed.stdout.strip():
                            break
                        await anyio.sleep(0.1)
                [line] = listed.stdout.strip().splitlines()
                decision_id = line.split()[0]
                assert "write_file" in line
                wrong = await anyio.to_thread.run_sync(cli, config, "deny", "0000000000")
                assert wrong.returncode == 1 and "no pending call" in wrong.stderr
                done = await anyio.to_thread.run_sync(cli, config, "approve", decision_id)
                assert done.returncode == 0, done.stderr
                assert "append" in done.stdout and f"approved {decision_id}" in done.stdout
                again = await anyio.to_thread.run_sync(cli, config, "approve", decision_id)
                assert again.returncode == 1  # replay: no longer pending
    [result] = results
    assert not result.is_error, result
    assert target.read_text() == "one\ntwo\n"


async def test_screenshot_of_a_pending_run_command_and_overwrite(tmp_path: Path) -> None:
    """The README's screenshot: a run_command with verdicts and an overwrite diff, both pending.

    Saved under tmp_path; copied to the path in $SECURE_MCP_SCREENSHOT when set (docs/console.png).
    """
    need_browser()
    config = write_config(tmp_path)
    workspace = tmp_path / "workspace"
    (workspace / "config.yaml").write_text("retries: 3\ntimeout: 30\nendpoint: https://api.internal/v1\nlog: info\n")
    (workspace / "NOTES.md").write_text("# notes\n")
    results: list[CallToolResult] = []
    with stdio_params(config) as params:
        async with Client(params) as client, browser_page() as page:

            async def calling(tool: str, args: dict[str, Any]) -> None:
                results.append(await client.call_tool(tool, args))

            async with anyio.create_task_group() as group:
                await console_url(tmp_path)
                await sign_in(page, config)
                # two earlier calls, decided with the buttons, fill "recent decisions"
                group.start_soon(
                    calling, "write_file", {"path": "NOTES.md", "content": "- ship 0.2\n", "mode": "append"}
                )
                await page.locator("li.card button.approve").first.click(timeout=15000)
                await page.locator("table.recent .o-approved").first.wait_for(timeout=15000)
                group.start_soon(calling, "write_file", {"path": "config.yaml", "content": "x\n", "mode": "overwrite"})
                await page.locator("li.card button.deny").first.click(timeout=15000)
                await page.locator("table.recent .o-denied").first.wait_for(timeout=15000)
                group.start_soon(calling, "run_command", {"command": "rm -rf build && mkdir -p build && make -j2 all"})
                await page.locator("li.card").first.wait_for(timeout=15000)
                new = "retries: 5\ntimeout: 30\nendpoint: https://api.internal/v2\nlog: debug\n"
                group.start_soon(calling, "write_file", {"path": "config.yaml", "content": new, "mode": "overwrite"})
                await page.locator("li.card").nth(1).wait_for(timeout=15000)
                await page.locator(".q-verdict .v-confirm").first.wait_for()
                await page.locator(".d-add").first.wait_for()
                shot = tmp_path / "console.png"
                await page.screenshot(path=str(shot), full_page=True)
                for _ in range(2):
                    await page.keyboard.press("d")
                    await anyio.sleep(0.3)
    assert shot.stat().st_size > 10_000
    assert not results[0].is_error and (workspace / "NOTES.md").read_text() == "# notes\n- ship 0.2\n"
    assert all(refusal(r) == ("confirm", "not_approved") for r in results[1:]) and len(results) == 4
    if os.environ.get("SECURE_MCP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["SECURE_MCP_SCREENSHOT"])


ATTACKER_PAGE = """<!doctype html><html><body><form id="f" method="POST" action="{url}/api/decide"
enctype="text/plain"><input name='{{"id":"{id}","digest":"{digest}","decision":"approve","x":"' value='"}}'></form>
<script>
const body = JSON.stringify({{id: "{id}", digest: "{digest}", decision: "approve"}});
Promise.allSettled([
  fetch("{url}/api/decide", {{method: "POST", mode: "no-cors", credentials: "include", body,
                              headers: {{"content-type": "text/plain"}}}}),
  fetch("{url}/api/decide", {{method: "POST", credentials: "include", body,
                              headers: {{"content-type": "application/json"}}}}),
]).then(() => {{ document.title = "tried"; document.getElementById("f").submit(); }});
</script></body></html>"""


async def test_a_page_on_another_origin_cannot_approve_with_the_approvers_cookie(tmp_path: Path) -> None:
    """A page on 127.0.0.1:<other port> is same-site (the Strict cookie is sent), but not same-origin:
    its fetches and its form post are refused, even knowing the id and digest, and the call stays pending."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx2

    from secure_mcp.approvals.keys import load_or_create_key, sign

    need_browser()
    config = write_config(tmp_path)
    target = tmp_path / "workspace" / "f.txt"
    target.write_text("old\n")
    results: list[CallToolResult] = []
    with stdio_params(config) as params:
        async with Client(params) as client, browser_page() as page:

            async def calling() -> None:
                args = {"path": "f.txt", "content": "new\n", "mode": "overwrite"}
                results.append(await client.call_tool("write_file", args))

            async with anyio.create_task_group() as group:
                group.start_soon(calling)
                url = await console_url(tmp_path)
                await sign_in(page, config)
                await page.locator("li.card").first.wait_for(timeout=15000)
                key = load_or_create_key(tmp_path / "state", create=False)

                def api() -> httpx2.Client:
                    headers = {"x-secure-mcp-approver": sign(key, "api", "test", 60)}
                    return httpx2.Client(base_url=url, headers=headers, trust_env=False, timeout=10)

                with api() as console_api:
                    [item] = console_api.get("/api/state").json()["pending"]
                html = ATTACKER_PAGE.format(url=url, id=item["id"], digest=item["digest"]).encode()

                class Attacker(BaseHTTPRequestHandler):
                    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                        self.send_response(200)
                        self.send_header("content-type", "text/html")
                        self.end_headers()
                        self.wfile.write(html)

                    def log_message(self, *args: Any) -> None:
                        return None

                evil = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
                thread = threading.Thread(target=evil.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
                thread.start()
                try:
                    await page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
                    await page.wait_for_url(f"{url}/api/decide", timeout=15000)  # the form post landed
                    assert "did not come from the console page" in await page.content()
                finally:
                    evil.shutdown()
                    evil.server_close()
                with api() as console_api:
                    assert [p["id"] for p in console_api.get("/api/state").json()["pending"]] == [item["id"]]
                    done = console_api.post(
                        "/api/decide", json={"id": item["id"], "digest": item["digest"], "decision": "deny"}
                    )
                    assert done.status_code == 200
    [result] = results
    assert refusal(result) == ("confirm", "not_approved")
    assert target.read_text() == "old\n"
