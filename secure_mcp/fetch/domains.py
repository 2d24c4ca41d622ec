"""Domain lists matched on whole labels, never on substrings.

``example.com`` covers ``example.com`` and ``api.example.com`` but not ``evil-example.com`` or
``example.com.evil.net``: both sides are normalised by the same host parser the URL goes through
(lowercase, IDNA A-labels, no trailing dot), then compared label by label from the right.
"""

from __future__ import annotations

from secure_mcp.errors import Denied
from secure_mcp.fetch.urls import normalise_host


def normalise_domain(entry: str) -> str:
    """Normalise one list entry; a leading ``*.`` or ``.`` is accepted and means the same as none.

    Raises:
        ValueError: the entry is not a host name or address (a config error: fix the entry).
    """
    text = entry.strip()
    for prefix in ("*.", "."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    try:
        return normalise_host(text)[0]
    except Denied:
        raise ValueError(f"{entry!r} is not a domain name") from None


def is_in_domain(host: str, domain: str, *, is_literal: bool = False) -> bool:
    """Whether normalised ``host`` is ``domain`` or one of its subdomains (whole labels only).

    An address literal has no subdomains, so it only matches an entry equal to it.
    """
    if is_literal:
        return host == domain
    return host == domain or host.endswith("." + domain)


def matching_domain(host: str, domains: tuple[str, ...], *, is_literal: bool = False) -> str | None:
    """The first entry of ``domains`` that ``host`` falls under, or ``None``."""
    for domain in domains:
        if is_in_domain(host, domain, is_literal=is_literal):
            return domain
    return None
