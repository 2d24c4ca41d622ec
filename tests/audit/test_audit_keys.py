"""load_key: the key comes only from the named variable or file, and bad sources stop startup."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_mcp.audit import load_key
from secure_mcp.errors import ConfigError

GOOD = "0123456789abcdef0123456789abcdef"


def test_no_key_configured_means_a_plain_chain() -> None:
    """Neither key_env nor key_file gives None (SHA-256 chain)."""
    assert load_key(None, None, {}) is None


def test_key_from_the_named_environment_variable() -> None:
    """The variable's value (trimmed) is the key."""
    assert load_key("AUDIT_KEY", None, {"AUDIT_KEY": f" {GOOD}\n"}) == GOOD.encode()


def test_key_from_a_private_file(tmp_path: Path) -> None:
    """The file's content (trimmed) is the key."""
    key_file = tmp_path / "key"
    key_file.write_text(GOOD + "\n")
    key_file.chmod(0o600)
    assert load_key(None, key_file, {}) == GOOD.encode()


@pytest.mark.parametrize(
    "environ",
    [{}, {"AUDIT_KEY": ""}, {"AUDIT_KEY": "   "}, {"AUDIT_KEY": "tiny-k3y"}],
)
def test_a_missing_empty_or_short_variable_is_a_config_error(environ: dict[str, str]) -> None:
    """A named key that is not there (or too weak) stops startup; the message never holds the value."""
    with pytest.raises(ConfigError) as caught:
        load_key("AUDIT_KEY", None, environ)
    assert "AUDIT_KEY" in str(caught.value)
    assert "tiny-k3y" not in str(caught.value)


def test_a_missing_or_others_writable_key_file_is_a_config_error(tmp_path: Path) -> None:
    """A key file that does not exist, or that others could replace, is refused."""
    with pytest.raises(ConfigError):
        load_key(None, tmp_path / "absent", {})
    key_file = tmp_path / "key"
    key_file.write_text(GOOD)
    key_file.chmod(0o666)
    with pytest.raises(ConfigError):
        load_key(None, key_file, {})


def test_naming_both_sources_is_a_config_error(tmp_path: Path) -> None:
    """Two key sources are ambiguous; the config must name one."""
    with pytest.raises(ConfigError):
        load_key("AUDIT_KEY", tmp_path / "key", {"AUDIT_KEY": GOOD})
