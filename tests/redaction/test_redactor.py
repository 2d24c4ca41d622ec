"""The Redactor's configuration, environment values, nested values and markers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_mcp.errors import ConfigError
from secure_mcp.redaction import Redactor, contains_marker, is_secret_env_name
from tests.properties import examples

from .samples import CASES, GH


def test_env_values_of_secret_named_variables_are_masked() -> None:
    """The server's own secrets are masked wherever they appear, as kind env."""
    redactor = Redactor(environ={"MY_SERVICE_TOKEN": "plainvalue-xyz", "HOME": "/home/someone"})
    result = redactor.redact("got plainvalue-xyz from /home/someone")
    assert "plainvalue-xyz" not in result.text
    assert "/home/someone" in result.text
    assert result.counts == {"env": 1}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OPENAI_API_KEY", True),
        ("DB_PASSWORD", True),
        ("GITHUB_TOKEN", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PATH", False),
        ("PWD", False),
        ("SSH_AUTH_SOCK", False),
        ("KEYBOARD_LAYOUT", False),
    ],
)
def test_secret_env_names_are_recognised(name: str, expected: bool) -> None:
    """Only names that announce a secret count."""
    assert is_secret_env_name(name) is expected


def test_short_env_values_are_not_masked() -> None:
    """Values under 8 characters would mask ordinary words everywhere, so they are skipped."""
    redactor = Redactor(environ={"API_KEY": "abc"})
    assert redactor.redact("abc abc").text == "abc abc"


def test_allowlisted_value_is_never_masked() -> None:
    """The allowlist keeps a known-public value such as a documented example key."""
    text, secret, _ = CASES["aws_access_key_id"]
    assert Redactor(allowlist=[secret]).redact(text).text == text


def test_disabled_kind_is_not_masked_but_others_are() -> None:
    """disabled_kinds switches off exactly the named detectors."""
    redactor = Redactor(disabled_kinds=["jwt"])
    jwt_text, _, _ = CASES["jwt"]
    assert redactor.redact(jwt_text).text == jwt_text
    assert GH not in redactor.redact(GH).text


def test_extra_pattern_masks_its_secret_group() -> None:
    """A configured pattern masks its group named s under its own kind."""
    redactor = Redactor(extra_patterns={"acme_key": r"acme-id:(?P<s>[0-9a-f]{12})"})
    result = redactor.redact("acme-id:0123456789ab and more")
    assert result.text == "acme-id:[REDACTED:acme_key] and more"
    assert result.counts == {"acme_key": 1}


@pytest.mark.parametrize(
    "extra",
    [{"bad": "(unclosed"}, {"Bad-Name": "x"}, {"jwt": "x"}, {"empty": "a*"}, {"backref": r"(a)\1"}],
)
def test_bad_extra_pattern_is_a_config_error(extra: dict[str, str]) -> None:
    """Invalid, empty-matching, non-RE2 or clashing patterns stop startup."""
    with pytest.raises(ConfigError):
        Redactor(extra_patterns=extra)


def test_unknown_disabled_kind_is_a_config_error() -> None:
    """A typo in disabled_kinds must not silently leave everything enabled... or disabled."""
    with pytest.raises(ConfigError):
        Redactor(disabled_kinds=["github"])


def test_redact_value_recurses_into_keys_and_containers() -> None:
    """Every string in a nested structure, keys included, is redacted; other leaves stay."""
    value = {GH: [1, ("x", GH)], "ok": {"n": None, "s": f"t={GH}"}}
    redacted, counts = Redactor().redact_value(value)
    assert GH not in repr(redacted)
    assert counts == {"github_token": 3}
    assert isinstance(redacted, dict) and redacted["ok"]["n"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[REDACTED:jwt]", True),
        ("［ＲＥＤＡＣＴＥＤ：jwt］", True),
        ("[redacted:jwt]", True),
        ("[RED\u200bACTED:jwt]", True),
        ("REDACTED", False),
        ("[REDACT", False),
    ],
)
def test_contains_marker_sees_look_alikes(text: str, expected: bool) -> None:
    """Full-width, lower-case and invisible-split markers count as markers."""
    assert contains_marker(text) is expected


def test_repeated_short_values_are_masked_and_counted_every_time_despite_the_memo() -> None:
    """The memo for short strings changes speed only: the second record is masked and counted too."""
    redactor = Redactor(environ={"API_TOKEN": "s3cr3t-value-9"})
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    record = {"a": token, "b": "s3cr3t-value-9", "c": "plain"}
    for _ in range(3):
        redacted, counts = redactor.redact_value(record)
        assert redacted == {"a": "[REDACTED:github_token]", "b": "[REDACTED:env]", "c": "plain"}
        assert counts == {"github_token": 1, "env": 1}


_PIECES = [
    "plain words",
    "password = 'hunter2-but-longer'",
    "ghp_" + "Z9y8X7w6V5" * 3 + "u4T3s2",
    "AKIA" + "Z7QW4N2R5T8Y3U6P",
    "postgres://app:pa55word-x1@db:5432/app",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "c0aa626f632949718c1720a4089ed277",
    "token:",
    "",
]


@settings(max_examples=examples(150), deadline=None)
@given(
    st.recursive(
        st.sampled_from(_PIECES),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_PIECES), inner, max_size=3),
        max_leaves=12,
    )
)
def test_the_whole_value_prefilter_never_skips_what_string_by_string_redaction_masks(value: object) -> None:
    """redact_value's one-pass shortcut gives exactly the per-string result, secrets or not."""
    redactor = Redactor(environ={})

    def by_string(item: object) -> object:
        if isinstance(item, str):
            return redactor.redact(item).text
        if isinstance(item, dict):
            return {by_string(k): by_string(v) for k, v in item.items()}
        if isinstance(item, list):
            return [by_string(v) for v in item]
        return item

    redacted, _ = redactor.redact_value(value)
    assert redacted == by_string(value)
