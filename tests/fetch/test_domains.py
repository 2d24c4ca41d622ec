"""Domain lists match whole labels after the same normalisation the URL gets."""

from __future__ import annotations

import pytest

from secure_mcp.errors import Denied
from secure_mcp.fetch import FetchPolicy, check_url

ALLOWED = FetchPolicy(allowed_domains=("example.com", "*.docs.python.org", "B\u00fccher.example."))
BLOCKED = FetchPolicy(blocked_domains=("evil.com",))


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "http://api.example.com/",
        "http://a.b.example.com./",
        "http://EXAMPLE.com/",
        "http://docs.python.org/",
        "http://xn--bcher-kva.example/",
        "http://b\u00fccher.example/",
    ],
)
def test_allowed_domains_admit_the_domain_and_its_subdomains(url: str) -> None:
    """A host equal to or under an allowed domain passes."""
    check_url(url, ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil-example.com/",
        "http://example.com.evil.net/",
        "http://notexample.com/",
        "http://example.co/",
        "http://python.org/",
        "http://8.8.8.8/",
    ],
)
def test_allowed_domains_refuse_lookalikes(url: str) -> None:
    """Substring and suffix lookalikes are not under the domain."""
    with pytest.raises(Denied) as caught:
        check_url(url, ALLOWED)
    assert caught.value.reason == "domain_not_allowed"


@pytest.mark.parametrize("url", ["http://evil.com/", "http://x.y.evil.com/", "http://EVIL.COM./"])
def test_blocked_domains_refuse_the_domain_and_its_subdomains(url: str) -> None:
    """A host under a blocked domain is refused whatever its case or trailing dot."""
    with pytest.raises(Denied) as caught:
        check_url(url, BLOCKED)
    assert caught.value.reason == "domain_blocked"


def test_blocked_domains_leave_lookalikes_alone() -> None:
    """Blocking evil.com does not block notevil.com."""
    check_url("http://notevil.com/", BLOCKED)


def test_blocked_beats_allowed() -> None:
    """A host both allowed and blocked is refused."""
    policy = FetchPolicy(allowed_domains=("example.com",), blocked_domains=("private.example.com",))
    with pytest.raises(Denied) as caught:
        check_url("http://x.private.example.com/", policy)
    assert caught.value.reason == "domain_blocked"


@pytest.mark.parametrize("entry", ["", "exa mple.com", "a..b", "http://example.com"])
def test_malformed_domain_entries_are_config_errors(entry: str) -> None:
    """A list entry that is not a domain fails loudly at construction."""
    with pytest.raises(ValueError):
        FetchPolicy(blocked_domains=(entry,))
