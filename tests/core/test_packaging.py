"""The wheel holds every package, and tools/ installs as secure_mcp.tools, never as a bare `tools`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _declared() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return set(data["tool"]["setuptools"]["packages"])


def test_every_source_package_is_declared_for_the_wheel() -> None:
    """pyproject lists packages by hand (for the tools/ mapping); a forgotten one would be missing."""
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "secure_mcp").rglob("__init__.py")}
    found.add("secure_mcp.tools")
    assert found == _declared()


@pytest.mark.slow
def test_the_built_wheel_maps_tools_under_secure_mcp(tmp_path: Path) -> None:
    """A real wheel build: secure_mcp/tools/*.py present, no top-level tools/ package."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("secure_mcp-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "secure_mcp/tools/run_command.py" in names
    assert "secure_mcp/sandbox/image/Dockerfile" in names
    assert not any(name.startswith("tools/") for name in names)
