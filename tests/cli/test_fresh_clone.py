"""Issue 17, "First run": on a new clone, `make test` and `make serve` work with nothing run before.

The clone is made at HEAD in a temporary folder, so nothing from this checkout's .venv,
node_modules or build/ helps; pip's and npm's download caches do (that keeps it to minutes). The
inner `make test` runs the real set-up (venv from the lock, `npm ci`, the sandbox image check, ruff
and mypy on the whole tree) and then a narrow pytest selection through PYTEST_ARGS: one interop
test (needs the npm client) and one sandbox test (needs the image), never this file again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.support import REQUIRE_DOCKER, SANDBOX_IMAGE, docker_problem

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

REPO = Path(__file__).resolve().parents[2]
MAKE_TIMEOUT_S = 1200
INNER_TESTS = (
    "tests/interop/test_typescript_client.py::test_stdio_lists_every_tool_and_a_create_succeeds "
    "tests/e2e/test_sandboxed_tools.py::test_allowed_pipeline_runs_in_the_sandbox_and_output_is_redacted"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECURE_MCP_CONFIG", "VIRTUAL_ENV", "PYTHONPATH"}}
    env.pop("MAKEFLAGS", None)
    env.pop("MAKELEVEL", None)
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new clone at HEAD; skipped (failed under SECURE_MCP_REQUIRE_DOCKER=1) without Docker or npm."""
    problem = docker_problem() or (None if shutil.which("npm") else "npm is not installed")
    if problem is not None:
        if REQUIRE_DOCKER:
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)
    dest = tmp_path_factory.mktemp("fresh") / "secure-mcp"
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(dest)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", head], check=True, timeout=120)
    assert not (dest / ".venv").exists() and not (dest / "tests" / "interop" / "node_modules").exists()
    # The bundled config, but with the image the suite tests (SECURE_MCP_SANDBOX_IMAGE), so `make`
    # checks that image instead of rebuilding a shared tag another checkout's runner may have made.
    bundled = (dest / "config.toml").read_text()
    line = 'image = "secure-mcp-sandbox:latest"'
    assert line in bundled
    (dest / "test-config.toml").write_text(bundled.replace(line, f"image = {json.dumps(SANDBOX_IMAGE)}"))
    try:
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)  # a venv and node_modules: hundreds of MB


def test_make_test_on_a_fresh_clone_sets_up_everything_and_passes(clone: Path) -> None:
    done = subprocess.run(
        ["make", "test", "CONFIG=test-config.toml", f"PYTEST_ARGS={INNER_TESTS}"],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=MAKE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    tail = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert done.returncode == 0, tail
    assert (clone / ".venv" / "bin" / "secure-mcp").exists()
    assert (clone / "tests" / "interop" / "node_modules" / ".package-lock.json").exists(), tail
    summary = re.search(r"=+ (.*) in [\d.]+s", done.stdout)
    assert summary is not None, tail
    assert re.search(r"\b4 passed\b", summary.group(1)), summary.group(1)
    if REQUIRE_DOCKER:
        assert "skipped" not in summary.group(1)
    assert "Traceback" not in done.stderr
    # The venv was made in this run: none of setuptools' deprecation warnings (license table, unlisted package)
    assert "DeprecationWarning" not in done.stderr and "would be ignored" not in done.stderr, done.stderr[-4000:]


async def test_make_serve_answers_an_mcp_client_on_stdio(clone: Path) -> None:
    """`make serve` is a stdio server a client can launch: set-up talk on stderr, stdout the wire only."""
    args = ["serve", "CONFIG=test-config.toml"]
    params = StdioServerParameters(command="make", args=args, env=_env(), cwd=str(clone))
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == {"run_command", "write_file", "execute_python", "fetch_url"}
