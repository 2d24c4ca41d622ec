"""Configuration: every SPEC key with its default; bad input stops the server with the key named."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from secure_mcp.config import Config, load_config, parse_config
from secure_mcp.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _keys(model: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in model:
        if name in {"base_dir", "source"}:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            keys |= _keys(value, f"{path}.")
        else:
            keys.add(path)
    return keys


def _toml_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and path not in {"redaction.extra_patterns", "sanitize.tools"}:
            keys |= _toml_keys(value, f"{path}.")
        else:
            keys.add(path)
    return keys


def test_shipped_config_is_exactly_the_documented_defaults() -> None:
    """config.toml loads to the same values as the built-in defaults."""
    shipped = load_config(REPO / "config.toml")
    assert shipped.model_dump() == Config(base_dir=shipped.base_dir).model_dump()


def test_shipped_config_names_every_key_but_optional_ones() -> None:
    """Every key of the model is present in config.toml (optional keys appear commented)."""
    text = (REPO / "config.toml").read_text()
    present = _toml_keys(tomllib.loads(text))
    optional = {"audit.key_env", "audit.key_file", "sandbox.runtime", "auth.tokens", "auth.oidc", "sanitize.tools"} | {
        f"tools.{tool}.when_unsupported" for tool in ("run_command", "write_file", "execute_python", "fetch_url")
    }
    optional.add("sandbox.warm_pool_rw")
    missing = _keys(Config()) - present - optional
    assert not missing, missing
    for key in optional:
        assert key.split(".")[-1] in text


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"sandbox": {"memroy": "1g"}}, "sandbox.memroy"),
        ({"sandbox": {"cpus": "lots"}}, "sandbox.cpus"),
        ({"sandbox": {"memory": "a lot"}}, "sandbox.memory"),
        ({"sandbox": {"pids": 0}}, "sandbox.pids"),
        ({"confirmation": {"when_unsupported": "maybe"}}, "confirmation.when_unsupported"),
        ({"tools": {"run_command": {"allow": ["rm"], "deny": ["rm"]}}}, "tools.run_command"),
        ({"tools": {"fetch_url": {"allow_hosts": ["localhost"]}}}, "tools.fetch_url.allow_hosts"),
        ({"tools": {"nope": {}}}, "tools.nope"),
        ({"auth": {"tokens": [{"name": "a", "sha256": "xyz", "tools": []}]}}, "auth.tokens.0.sha256"),
        ({"sanitize": {"output": "confirm"}}, "sanitize.output"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key(data: dict[str, Any], named: str) -> None:
    """Unknown keys, wrong types and impossible values name the key path."""
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("/tmp"))
    assert named in str(caught.value)


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    """workspace and audit paths are taken from the config file's folder, not the cwd."""
    (tmp_path / "c.toml").write_text('[workspace]\nroot = "ws"\n[audit]\npath = "logs/a.jsonl"\n')
    config = load_config(tmp_path / "c.toml")
    assert config.workspace_root == tmp_path.resolve() / "ws"
    assert config.audit_path == tmp_path.resolve() / "logs" / "a.jsonl"


@pytest.mark.process
def test_the_server_does_not_start_on_a_bad_config(tmp_path: Path) -> None:
    """`secure-mcp serve` exits 2 and names the key; it never starts serving."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[sandbox]\ntimeout_s = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "secure_mcp", "serve", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "sandbox.timeout_s" in done.stderr
    assert done.stdout == ""
