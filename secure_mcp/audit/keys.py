"""Loading the HMAC key from the place the config names, never from anywhere else."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from secure_mcp.errors import ConfigError

MIN_KEY_BYTES = 16


def _checked(key: bytes, where: str) -> bytes:
    if not key:
        raise ConfigError(f"audit: {where} is empty; it must hold the audit HMAC key")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"audit: the key in {where} is shorter than {MIN_KEY_BYTES} bytes; generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return key


def load_key(key_env: str | None, key_file: Path | None, environ: Mapping[str, str]) -> bytes | None:
    """The audit HMAC key, or ``None`` when the config names no key (plain SHA-256 chain).

    The key is the UTF-8 bytes of the variable's value or the file's content, surrounding
    whitespace removed. A key file that others can write is refused: whoever can replace the key
    can re-sign an edited log.

    Args:
        key_env: ``[audit] key_env``, the *name* of an environment variable holding the key.
        key_file: ``[audit] key_file``, already resolved against the config folder.
        environ: the environment to read (``os.environ`` in the server; a dict in tests).

    Raises:
        ConfigError: both or a missing/empty/short/unsafe key source is named. The message names
            the variable or file, never the key.
    """
    if key_env is not None and key_file is not None:
        raise ConfigError("audit: set only one of 'key_env' and 'key_file'")
    if key_env is not None:
        value = environ.get(key_env)
        if value is None:
            raise ConfigError(f"audit.key_env: environment variable {key_env} is not set")
        return _checked(value.strip().encode("utf-8"), f"environment variable {key_env}")
    if key_file is not None:
        try:
            fd = os.open(key_file, os.O_RDONLY | os.O_CLOEXEC)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise ConfigError(f"audit.key_file: {key_file} is not a regular file")
                if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                    raise ConfigError(f"audit.key_file: {key_file} is writable by others; chmod 600 it")
                data = os.read(fd, 64 * 1024)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ConfigError(f"audit.key_file: cannot read {key_file} ({exc.strerror})") from None
        return _checked(data.strip(), f"key file {key_file}")
    return None
