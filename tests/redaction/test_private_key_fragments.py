"""Private key material without its BEGIN line: `tail -3 id_rsa`, a key split over two results (issue 17)."""

from __future__ import annotations

import functools
import json

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from secure_mcp.redaction import Redactor, marker

REDACTOR = Redactor()
MASK = marker("private_key")
FORMATS = {
    "rsa-pkcs1": ("rsa", ser.PrivateFormat.TraditionalOpenSSL),
    "rsa-pkcs8": ("rsa", ser.PrivateFormat.PKCS8),
    "rsa-openssh": ("rsa", ser.PrivateFormat.OpenSSH),
    "ec-sec1": ("ec", ser.PrivateFormat.TraditionalOpenSSL),
    "ec-pkcs8": ("ec", ser.PrivateFormat.PKCS8),
    "ed25519-openssh": ("ed25519", ser.PrivateFormat.OpenSSH),
    "ed25519-pkcs8": ("ed25519", ser.PrivateFormat.PKCS8),
}


@functools.cache
def _key(algorithm: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def pem_lines(name: str) -> list[str]:
    algorithm, fmt = FORMATS[name]
    pem = _key(algorithm).private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption()).decode()
    return pem.splitlines()


def _body_leaks(lines: list[str], out: str) -> list[str]:
    # Every body line of 8+ characters must be gone (shorter pieces cannot be told from text).
    return [line for line in lines if not line.startswith("-----") and len(line) >= 8 and line in out]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_tail_of_a_key_file_is_masked(name: str) -> None:
    """`tail -3 id_rsa`: the last body lines and the END line, no BEGIN anywhere."""
    lines = pem_lines(name)
    text = "$ tail -3 key\n" + "\n".join(lines[-3:]) + "\n$ echo done\ndone\n"
    out = REDACTOR.redact(text).text
    assert not _body_leaks(lines[-3:], out)
    assert "-----END" not in out
    assert out.startswith("$ tail -3 key\n") and out.endswith("\n$ echo done\ndone\n")
    assert MASK in out


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("cut", [0.3, 0.5, 0.8])
def test_a_key_split_over_two_results_leaks_nothing_from_either_half(name: str, cut: float) -> None:
    """Each half is redacted on its own, as two tool results are: neither keeps key material."""
    lines = pem_lines(name)
    at = max(2, int(len(lines) * cut))
    first, second = "\n".join(lines[:at]), "\n".join(lines[at:])
    out_first, out_second = REDACTOR.redact(first).text, REDACTOR.redact(second).text
    assert not _body_leaks(lines[:at], out_first)
    assert not _body_leaks(lines[at:], out_second)
    assert "-----END" not in out_second


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_head_of_a_body_without_its_begin_line_is_masked(name: str) -> None:
    """`sed -n 2,4p id_rsa`: the first body line carries the key structure, which is recognised."""
    lines = pem_lines(name)
    text = "\n".join(lines[1:4]) + "\nnext command output\n"
    out = REDACTOR.redact(text).text
    assert not _body_leaks(lines[1:4], out)
    assert out.endswith("\nnext command output\n")


def test_an_end_line_alone_and_inside_a_json_string_is_masked() -> None:
    """The END line names a private key: masked on its own, and in escaped JSON with its body."""
    lines = pem_lines("rsa-pkcs1")
    assert REDACTOR.redact("-----END RSA PRIVATE KEY-----\n").text == f"{MASK}\n"
    escaped = json.dumps({"tail": "\n".join(lines[-4:]) + "\n"})
    out = REDACTOR.redact(escaped).text
    assert not _body_leaks(lines[-4:], out) and "END RSA" not in out


@pytest.mark.parametrize(
    "text",
    [
        "-----END PUBLIC KEY-----\n",
        "-----END CERTIFICATE-----\n",
        "MIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n",
        "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJRTESMBAGA1UEChMJQmFsdGltb3Jl\n",
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\n",
        "Hello world\nThe END of the file\n",
    ],
)
def test_public_keys_certificates_and_other_base64_stay(text: str) -> None:
    """Public material and ordinary base64 keep their text: only private-key structure is masked."""
    assert REDACTOR.redact(text).text == text


def test_a_truncated_key_inside_a_json_string_is_masked_past_its_first_line() -> None:
    """A key cut off inside escaped JSON: every body line after BEGIN goes, not only the first."""
    lines = pem_lines("rsa-pkcs1")
    escaped = json.dumps({"key": "\n".join(lines[:6])})[:-2]  # cut off: no END, no closing quote
    out = REDACTOR.redact(escaped).text
    assert not _body_leaks(lines[:6], out)
