"""The fetch library behind ``fetch_url``: a complete SSRF guard, pinned connections, conversion.

``check_url`` runs the checks that need no network; ``fetch`` runs them again on every hop,
resolves each name once, judges every address it got, and connects only to those addresses.
``wrap_untrusted`` marks the result as data before it goes back to a model.
"""

from __future__ import annotations

from secure_mcp.fetch.addresses import describe_reason, judge_address
from secure_mcp.fetch.client import default_ssl_context, fetch
from secure_mcp.fetch.policy import FetchOutcome, FetchPolicy
from secure_mcp.fetch.resolver import Resolver, SystemResolver
from secure_mcp.fetch.targets import ParsedTarget, address_reason, check_url
from secure_mcp.fetch.untrusted import wrap_untrusted

__all__ = [
    "FetchOutcome",
    "FetchPolicy",
    "ParsedTarget",
    "Resolver",
    "SystemResolver",
    "address_reason",
    "check_url",
    "default_ssl_context",
    "describe_reason",
    "fetch",
    "judge_address",
    "wrap_untrusted",
]
