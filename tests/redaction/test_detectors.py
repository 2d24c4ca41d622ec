"""One positive and one near-miss negative per kind, plus the assignment heuristics."""

from __future__ import annotations

import pytest

from secure_mcp.redaction import KINDS, MARKER_PREFIX, Redactor, marker

from .samples import CASES

REDACTOR = Redactor()


def test_every_builtin_kind_has_a_case() -> None:
    """No detector ships without a positive and a negative sample."""
    assert set(CASES) == KINDS - {"env"}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_positive_sample_is_masked_whole_under_its_kind(kind: str) -> None:
    """The secret disappears completely and the marker names the kind."""
    text, secret, _ = CASES[kind]
    result = REDACTOR.redact(text)
    assert secret not in result.text
    assert marker(kind) in result.text
    assert result.counts.get(kind, 0) >= 1


@pytest.mark.parametrize("kind", sorted(CASES))
def test_near_miss_is_left_alone(kind: str) -> None:
    """A look-alike that is not a secret of that kind is not masked at all."""
    _, _, near_miss = CASES[kind]
    result = REDACTOR.redact(near_miss)
    assert result.text == near_miss
    assert result.counts == {}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('password = "correct horse battery"', "correct horse battery"),
        ("db:\n  password: s3cr3t!\n", "s3cr3t!"),
        ('{"api_key": "a8f5f167f44f4964e6c998dee827110c"}', "a8f5f167f44f4964e6c998dee827110c"),
        ("mysql --password=Tr0ub4dor&3 -u root", "Tr0ub4dor"),
        ("client_secret => 'xyz789abc'", "xyz789abc"),
        ("dbPassword='pa55word'", "pa55word"),
        ("https://api.example.com/v1?access_token=abcDEF123456&x=1", "abcDEF123456"),
        ("redis://:hunter2pass@cache:6379/0", "hunter2pass"),
        ("smtp://user:p@ss@w0rd@mail:25", "p@ss@w0rd"),
    ],
)
def test_assignment_forms_are_masked(text: str, secret: str) -> None:
    """Values in code, YAML, JSON, flags, query strings and URLs are masked."""
    assert secret not in REDACTOR.redact(text).text


@pytest.mark.parametrize(
    "text",
    [
        "password: str",
        "self.password = password",
        "token = request.headers.get('x')",
        "max_tokens = 1024",
        "Password: ********",
        "Enter your password:\n",
        "The password: use a long one.",
        'password: "${DB_PASSWORD}"',
        "secret_key = os.environ['SECRET_KEY']",
        "bypass = True",
        "compass: north-west-by-north",
        "token_type: bearer",
        "PWD=/home/user/project",
        "password: SecretStr",
        "api_key: Optional[str] = None",
        "ssh://git@github.com/org/repo.git",
        "http://localhost:8080/path",
    ],
)
def test_code_and_prose_around_secret_words_are_not_masked(text: str) -> None:
    """Variables, types, placeholders and prose are not values."""
    assert REDACTOR.redact(text).text == text


def test_vendor_token_in_assignment_reports_vendor_kind() -> None:
    """GITHUB_TOKEN=ghp_... is counted as github_token, not as a generic assignment."""
    _, secret, _ = CASES["github_token"]
    result = REDACTOR.redact(f"GITHUB_TOKEN={secret}\ntoken: {secret}\n")
    assert secret not in result.text
    assert result.counts == {"github_token": 2}


def test_private_key_block_is_masked_whole_including_header_and_footer() -> None:
    """Nothing of a PEM block survives, not even the header that names the key type."""
    _, _, _ = CASES["private_key"]
    text = "a\n" + CASES["private_key"][0].split("\n", 1)[1]
    result = REDACTOR.redact(text)
    assert "BEGIN" not in result.text and "END RSA" not in result.text
    assert result.text.endswith("\nafter")


def test_truncated_private_key_without_footer_is_still_masked() -> None:
    """A block cut off before its footer (a truncated output) is masked as far as its body runs."""
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\nAAAAAQAAADMAAAALc3NoLWVk"
    result = REDACTOR.redact(text)
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" not in result.text
    assert "AAAAAQAAADMAAAALc3NoLWVk" not in result.text


def test_redacting_twice_changes_nothing() -> None:
    """Markers are not secrets: redaction is idempotent, so audit can re-redact safely."""
    text = "\n".join(t for t, _, _ in CASES.values())
    once = REDACTOR.redact(text).text
    assert MARKER_PREFIX in once
    again = REDACTOR.redact(once)
    assert again.text == once and again.counts == {}
