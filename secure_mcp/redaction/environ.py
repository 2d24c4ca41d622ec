"""Which of the server's environment values are secrets to mask.

A value is masked when its variable's NAME looks secret and the value is long enough to be
distinctive: masking "1" or "true" everywhere would wreck outputs and protect nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import re2

ENV_KIND = "env"
MIN_SECRET_LENGTH = 8

# Name parts that mark a secret: DB_PASSWORD, OPENAI_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY.
_SECRET_NAME = re2.compile(
    r"(?i)(?:^|[_.-])(?:[A-Z0-9]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD|CREDENTIALS?|AUTH|PRIVATE|"
    r"SIGNATURE|SALT|COOKIE|DSN|CONN(?:ECTION)?_?STR(?:ING)?))(?:[_.-]|$)"
)
# Names that match the above but never hold secrets.
_NOT_SECRET = frozenset({"PWD", "OLDPWD", "KEYTIMEOUT", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "XAUTHORITY"})


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable with this name should be treated as a secret."""
    return name.upper() not in _NOT_SECRET and _SECRET_NAME.search(name) is not None


def secret_env_values(environ: Mapping[str, str]) -> Iterator[str]:
    """The distinct secret values, longest first (so a value containing another wins)."""
    values = {v for k, v in environ.items() if is_secret_env_name(k) and len(v.strip()) >= MIN_SECRET_LENGTH}
    yield from sorted(values, key=lambda v: (-len(v), v))
