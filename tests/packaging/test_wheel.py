"""Issue 18: a wheel built from a clean clone works where people install it, with pip and with uvx.

Slow (a clone, a wheel build, a fresh venv with every locked dependency from the local caches),
bounded by per-step timeouts. Only the committed tree is tested: the clone is made at HEAD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.support import REQUIRE_DOCKER, SANDBOX_IMAGE

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

REPO = Path(__file__).resolve().parents[2]
TOOLS = {"run_command", "write_file", "execute_python", "fetch_url"}
STEP_TIMEOUT_S = 600


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def clean_clone(dest: Path) -> Path:
    """A new clone of the committed tree at HEAD: no venv, no build/, no node_modules, no caches."""
    head = run("git", "-C", REPO, "rev-parse", "HEAD").strip()
    run("git", "clone", "-q", "--no-checkout", REPO, dest)
    run("git", "-C", dest, "checkout", "-q", head)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, a folder with a config for it); the config keeps its workspace and log in that folder."""
    base = tmp_path_factory.mktemp("wheel")
    source = clean_clone(base / "clone")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", source)
    (wheel,) = (base / "dist").glob("secure_mcp-*.whl")
    site = base / "site"
    site.mkdir()
    (site / "config.toml").write_text(f"[sandbox]\nwarm_pool = 0\nimage = {json.dumps(SANDBOX_IMAGE)}\n")
    yield wheel, site


def env_without_config() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SECURE_MCP_CONFIG", None)
    env.pop("VIRTUAL_ENV", None)
    return env


async def list_tools(command: str, args: list[str], cwd: Path) -> set[str]:
    params = StdioServerParameters(command=command, args=args, env=env_without_config(), cwd=str(cwd))
    async with Client(params) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


def test_the_wheel_maps_tools_under_secure_mcp(built: tuple[Path, Path]) -> None:
    names = zipfile.ZipFile(built[0]).namelist()
    assert "secure_mcp/tools/run_command.py" in names
    assert "secure_mcp/sandbox/image/Dockerfile" in names
    assert "secure_mcp/py.typed" in names
    assert not any(name.startswith("tools/") or "__pycache__" in name for name in names)


async def test_a_fresh_venv_runs_help_doctor_and_a_stdio_tools_list(built: tuple[Path, Path], tmp_path: Path) -> None:
    wheel, site = built
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", REPO / "constraints.txt", wheel)
    exe = venv / "bin" / "secure-mcp"
    assert "usage: secure-mcp" in run(exe, "--help", env=env_without_config())
    doctor = subprocess.run(
        [exe, "doctor", "--config", site / "config.toml"], capture_output=True, text=True, timeout=120, cwd=site
    )
    assert "Traceback" not in doctor.stderr and "[ok] config: " in doctor.stdout and "[ok] audit: " in doctor.stdout
    assert doctor.returncode == 0 or (not REQUIRE_DOCKER and doctor.returncode == 1), doctor.stdout
    assert await list_tools(str(exe), ["serve", "--config", str(site / "config.toml")], site) == TOOLS


async def test_uvx_from_the_wheel_runs_help_and_a_stdio_tools_list(built: tuple[Path, Path]) -> None:
    wheel, site = built
    uv = Path(sys.executable).with_name("uv")
    uvx = ["tool", "run", "--from", str(wheel), "-c", str(REPO / "constraints.txt"), "secure-mcp"]
    assert "usage: secure-mcp" in run(uv, *uvx, "--help", env=env_without_config(), cwd=site)
    assert await list_tools(str(uv), [*uvx, "serve", "--config", str(site / "config.toml")], site) == TOOLS
