"""The fetch policy and the fetch result: plain values, so the library is testable alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from secure_mcp.errors import Denied
from secure_mcp.fetch.domains import normalise_domain
from secure_mcp.fetch.urls import normalise_host, split_host_port


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may reach and how much it may read.

    Args:
        allowed_domains: empty means any public host; otherwise the host must fall under one entry
            (whole labels: ``example.com`` covers ``api.example.com``, never ``evil-example.com``).
        blocked_domains: hosts under any entry are refused, checked before ``allowed_domains``.
        allow_hosts: exact ``host:port`` exceptions to the *address* check only, for a trusted local
            service; the URL's own host and port must match (``localhost:8080``, ``[::1]:8080``).
            Scheme, userinfo and the domain lists still apply.
        max_bytes: the most body bytes read (after decompression); the rest is never read.
        timeout_s: the budget of the whole fetch, resolution and every redirect hop included.
        max_redirects: redirects followed before the fetch fails.

    Raises:
        ValueError: an entry is malformed or a limit is not positive (a config error).
    """

    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = 1048576
    timeout_s: float = 15
    max_redirects: int = 5
    _allowed: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _blocked: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _exempt: frozenset[tuple[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.timeout_s <= 0 or self.max_redirects < 0:
            raise ValueError("max_bytes and timeout_s must be positive and max_redirects not negative")
        object.__setattr__(self, "_allowed", tuple(normalise_domain(d) for d in self.allowed_domains))
        object.__setattr__(self, "_blocked", tuple(normalise_domain(d) for d in self.blocked_domains))
        object.__setattr__(self, "_exempt", frozenset(_host_port(entry) for entry in self.allow_hosts))

    @property
    def allowed(self) -> tuple[str, ...]:
        """``allowed_domains``, normalised."""
        return self._allowed

    @property
    def blocked(self) -> tuple[str, ...]:
        """``blocked_domains``, normalised."""
        return self._blocked

    def is_exempt(self, host: str, port: int) -> bool:
        """Whether the normalised ``host`` and ``port`` are an ``allow_hosts`` entry."""
        return (host, port) in self._exempt


def _host_port(entry: str) -> tuple[str, int]:
    try:
        host, port = split_host_port(entry.strip(), 0)
        if port == 0:
            raise ValueError(f"{entry!r} has no port; allow_hosts entries are exact 'host:port'")
        return normalise_host(host)[0], port
    except Denied:
        raise ValueError(f"{entry!r} is not an exact 'host:port'") from None


@dataclass(frozen=True)
class FetchOutcome:
    """What a fetch returned. An HTTP error status is an outcome, not a failure."""

    url: str
    final_url: str
    status: int
    content_type: str
    content: str
    truncated: bool
    warnings: tuple[str, ...] = ()
