"""Playwright on Debian's Chromium, and real ``secure-mcp serve`` subprocesses with their console.

Playwright's own browser download cannot work on these machines: the tests drive /usr/bin/chromium.
Without it (or without the playwright package) the browser tests skip, except under
SECURE_MCP_REQUIRE_DOCKER=1 (CI), where they fail: CI must have installed them (.ci/run does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

CHROMIUM = os.environ.get("SECURE_MCP_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("SECURE_MCP_REQUIRE_DOCKER") == "1"


def need_browser() -> None:
    """Skip (locally) or fail (CI) when Chromium or Playwright is missing."""
    problem = None
    if shutil.which(CHROMIUM) is None:
        problem = f"{CHROMIUM} not found (apt-get install -y chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install playwright)"
    if problem is not None:
        if REQUIRED:
            pytest.fail(f"browser tests need Chromium and Playwright: {problem}")
        pytest.skip(problem)


@asynccontextmanager
async def browser_page() -> AsyncIterator[Any]:
    """A fresh Chromium page (its own context: no cookies from another test)."""
    need_browser()
    from playwright.async_api import async_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[*args, "--disable-gpu"], headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            yield await context.new_page()
        finally:
            await browser.close()


def write_config(folder: Path, extra: str = "") -> Path:
    (folder / "workspace").mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(
        '[sandbox]\nwarm_pool = 0\n[approvals]\nport = 0\nstate_dir = "state"\n[confirmation]\ntimeout_s = 60\n' + extra
    )
    return config


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``secure-mcp approvals ...`` as a person would type it: another process."""
    env = dict(os.environ)
    env.pop("SECURE_MCP_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "secure_mcp", "approvals", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


async def console_url(folder: Path, timeout_s: float = 30) -> str:
    """The URL the running server wrote to its state folder."""
    with anyio.fail_after(timeout_s):
        while True:
            try:
                return str(json.loads((folder / "state" / "console.json").read_text())["url"])
            except (OSError, ValueError, KeyError):
                await anyio.sleep(0.05)


async def sign_in(page: Any, config: Path) -> None:
    done = await anyio.to_thread.run_sync(cli, config, "url")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    await page.goto(link)
    await page.wait_for_selector("text=signed in as")


@contextmanager
def stdio_params(config: Path) -> Iterator[Any]:
    from mcp import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if k != "SECURE_MCP_CONFIG"}
    yield StdioServerParameters(
        command=sys.executable, args=["-m", "secure_mcp", "serve", "--config", str(config)], env=env, cwd=config.parent
    )
