"""Static URL checks: scheme, userinfo, host forms and numeric normalisation, as units."""

from __future__ import annotations

import pytest

from secure_mcp.errors import Denied
from secure_mcp.fetch import FetchPolicy, check_url

OPEN = FetchPolicy()

REFUSED: list[tuple[str, str]] = [
    ("http://127.0.0.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://127.0.1/", "loopback"),
    ("http://0x7F.0.0.1/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://%31%32%37.0.0.1/", "loopback"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "loopback"),
    ("http://0/", "unspecified"),
    ("http://0.0.0.0:8080/", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://0xa9fea9fe/", "metadata"),
    ("http://2852039166/", "metadata"),
    ("http://0251.0376.0251.0376/", "metadata"),
    ("http://10.1/", "private"),
    ("http://192.168.0.1:443/", "private"),
    ("http://100.64.1.1/", "cgnat"),
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "ipv4_mapped_loopback"),
    ("http://[::ffff:7f00:1]:8080/", "ipv4_mapped_loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "ipv4_mapped_metadata"),
    ("http://[::127.0.0.1]/", "ipv4_compatible_loopback"),
    ("http://[64:ff9b::127.0.0.1]/", "nat64_loopback"),
    ("http://[fe80::1%25eth0]/", "link_local"),
    ("http://[fe80::1%eth0]/", "link_local"),
    ("http://[2606:4700::1%25eth0]/", "ipv6_zone"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://localhost/", "loopback"),
    ("http://LOCALHOST./", "loopback"),
    ("http://api.localhost:3000/", "loopback"),
    ("http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3/", "loopback"),
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("dict://example.com:11211/", "scheme"),
    ("http://user:pass@example.com/", "userinfo"),
    ("http://example.com@127.0.0.1/", "userinfo"),
    ("http://@example.com/", "userinfo"),
    ("http://example.com\\@127.0.0.1/", "userinfo"),
    ("http:example.com", "bad_url"),
    ("http:/example.com", "bad_url"),
    ("http://exa\tmple.com/", "bad_url"),
    ("http://example.com/\r\nX-Injected: 1", "bad_url"),
    ("example.com/path", "bad_url"),
    ("http:///path", "bad_host"),
    ("http://:80/", "bad_host"),
    ("http://1.2.3.4.5/", "bad_host"),
    ("http://256.1.1.1/", "bad_host"),
    ("http://08.0.0.1/", "bad_host"),
    ("http://0x7g.0.0.1/", "bad_host"),
    ("http://4294967296/", "bad_host"),
    ("http://foo.0x7f/", "bad_host"),
    ("http://exa mple.com/", "bad_host"),
    ("http://exa%2525mple.com/", "bad_host"),
    ("http://ex_ample..com/", "bad_host"),
    ("http://-example.com/", "bad_host"),
    ("http://[127.0.0.1]/", "bad_host"),
    ("http://[::1/", "bad_host"),
    ("http://[::1]x/", "bad_host"),
    ("http://::1/", "bad_host"),
    ("http://example.com:0/", "bad_port"),
    ("http://example.com:65536/", "bad_port"),
    ("http://example.com:8o/", "bad_port"),
    ("http://example.com:\uff18\uff10/", "bad_port"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_check_url_refuses_with_the_reason_code(url: str, reason: str) -> None:
    """Each refused URL form is refused at the validate stage with its stable reason code."""
    with pytest.raises(Denied) as caught:
        check_url(url, OPEN)
    assert (caught.value.stage, caught.value.reason) == ("validate", reason)


ACCEPTED: list[tuple[str, str]] = [
    ("http://example.com", "http://example.com/"),
    ("HTTPS://Example.COM.:443/a?b=1#frag", "https://example.com/a?b=1"),
    ("http://example.com:/x", "http://example.com/x"),
    ("http://8.8.8.8/", "http://8.8.8.8/"),
    ("http://134744072/", "http://8.8.8.8/"),
    ("http://0x8.0x8.0x8.0x8/", "http://8.8.8.8/"),
    ("http://[2606:4700:4700:0::1111]:8080/", "http://[2606:4700:4700::1111]:8080/"),
    ("http://[::ffff:8.8.8.8]/", "http://[::ffff:808:808]/"),
    ("http://b\u00fccher.example/", "http://xn--bcher-kva.example/"),
    ("http://example.com/a b/\u00e9", "http://example.com/a%20b/%C3%A9"),
    ("http://example.com?q", "http://example.com/?q"),
    ("http://_dmarc.example.com/", "http://_dmarc.example.com/"),
]


@pytest.mark.parametrize(("url", "normalised"), ACCEPTED)
def test_check_url_accepts_and_normalises_public_forms(url: str, normalised: str) -> None:
    """Public URLs pass the static checks and are normalised to the one form requested."""
    assert check_url(url, OPEN).url == normalised


def test_url_table_has_at_least_sixty_forms() -> None:
    """The issue asks for at least 60 addresses and URL forms in the judge's tables."""
    assert len(REFUSED) + len(ACCEPTED) >= 60


def test_allow_hosts_exempts_only_the_exact_host_and_port() -> None:
    """An allow_hosts entry lifts the address check for that host:port and nothing else."""
    policy = FetchPolicy(allow_hosts=("127.0.0.1:8080", "localhost:9000"))
    assert check_url("http://127.0.0.1:8080/", policy).is_exempt
    assert check_url("http://0x7f.1:8080/", policy).is_exempt
    assert check_url("http://localhost:9000/", policy).is_exempt
    for url in ("http://127.0.0.1:8081/", "http://127.0.0.2:8080/", "http://localhost:9001/"):
        with pytest.raises(Denied):
            check_url(url, policy)


def test_allow_hosts_does_not_lift_scheme_userinfo_or_domain_checks() -> None:
    """allow_hosts is an exception to the address check only."""
    policy = FetchPolicy(allow_hosts=("127.0.0.1:8080",), blocked_domains=("127.0.0.1",))
    for url, reason in (
        ("http://u:p@127.0.0.1:8080/", "userinfo"),
        ("ftp://127.0.0.1:8080/", "scheme"),
        ("http://127.0.0.1:8080/", "domain_blocked"),
    ):
        with pytest.raises(Denied) as caught:
            check_url(url, policy)
        assert caught.value.reason == reason


@pytest.mark.parametrize("entry", ["127.0.0.1", "host:", "host:0", "host:99999", "a b:80", "[::1:80"])
def test_malformed_allow_hosts_entry_is_a_config_error(entry: str) -> None:
    """A malformed entry fails at construction rather than silently never matching."""
    with pytest.raises(ValueError):
        FetchPolicy(allow_hosts=(entry,))


def test_refusal_message_names_the_address_and_its_kind() -> None:
    """The message explains the refusal in words: which address, what kind."""
    with pytest.raises(Denied) as caught:
        check_url("http://0x7f.1/", OPEN)
    assert "127.0.0.1" in caught.value.message
    assert caught.value.reason == "loopback"


def test_a_crash_inside_a_check_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: an unexpected exception in a check is a refusal, never a pass."""
    import secure_mcp.fetch.targets as targets

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(targets, "matching_domain", broken)
    with pytest.raises(Denied) as caught:
        check_url("http://example.com/", OPEN)
    assert caught.value.reason == "check_failed"
