"""Fake secrets per kind: a positive (text, the exact secret) and a near-miss negative.

Built by concatenation so no complete token literal sits in the source for scanners to trip on.
"""

from __future__ import annotations

B64_40 = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
AKID = "AKIA" + "IOSFODNN7EXAMPLE"
GH = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1y2\nZm9vYmFy==\n-----END RSA PRIVATE KEY-----"
SESSION = "IQoJb3JpZ2lu" + "ZWMQ" * 40
SMCP = "smcp_" + "Qm7Xv2Lr9Kt4-_" * 3 + "a"

# kind -> (text holding the secret, the secret that must vanish, near-miss text that must stay)
CASES: dict[str, tuple[str, str, str]] = {
    "aws_access_key_id": (f"key id {AKID} here", AKID, "key id AKIA" + "IOSFODNN7EXAMPL here"),
    "aws_secret_access_key": (f"aws_secret_access_key = {B64_40}\n", B64_40, f"checksum = {B64_40[:39]}\n"),
    "aws_session_token": (f"token {SESSION} end", SESSION, "IQoJb3JpZ2lu is short"),
    "smcp_token": (f"Authorization: Bearer {SMCP}\n", SMCP, "see smcp_" + "x1Y2" * 10 + "z1 now"),
    "github_token": (f"use {GH} now", GH, "use ghp_" + "A1b2C3d4E5" * 3 + "F6g7H now"),
    "gitlab_token": ("t=glpat-" + "xY1" * 7 + " ok", "glpat-" + "xY1" * 7, "glpat-short1 ok"),
    "slack_token": ("xoxb-" + "1234567890-" + "abcdefABCDEF12" + "\n", "xoxb-" + "1234567890-abcdefABCDEF12",
                    "xoxz-1234567890"),
    "slack_webhook": (
        "hook https://hooks.slack.com/services/" + "T000/B000/" + "XXXXXXXXXXXXXXXXXXXXXXXX" + " x",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "docs https://api.slack.com/messaging/webhooks x",
    ),
    "stripe_key": ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + " ", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
                   "pk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    "openai_api_key": ("k=sk-proj-" + "Ab1_" * 12 + " ", "sk-proj-" + "Ab1_" * 12, "sk-learn is a library"),
    "anthropic_api_key": ("sk-ant-api03-" + "Zz9-" * 22 + "AA\n", "sk-ant-api03-" + "Zz9-" * 22 + "AA",
                          "sk-ant-api03-short"),
    "google_api_key": ("AIza" + "SyD-" * 8 + "abc" + " x", "AIza" + "SyD-" * 8 + "abc", "AIza" + "SyD-" * 8 + "ab x"),
    "google_oauth_secret": ("GOCSPX-" + "aB3_" * 7 + "\n", "GOCSPX-" + "aB3_" * 7, "GOCSPX-short"),
    "gcp_service_account_key": (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\n'
        '-----END PRIVATE KEY-----\\n", "client_email": "a@b.iam.gserviceaccount.com"}',
        "MIIEvQIBADAN",
        '{"type": "service_account", "private_key_id": "", "client_email": "a@b.iam.gserviceaccount.com"}',
    ),
    "azure_storage_key": (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "Eby8vdM02xNOcqF" * 5 + "ab==;End",
        "Eby8vdM02xNOcqF" * 5 + "ab==",
        "DefaultEndpointsProtocol=https;AccountName=acct;EndpointSuffix=core.windows.net",
    ),
    "twilio_key": ("SK" + "0123456789abcdef" * 2 + " x", "SK" + "0123456789abcdef" * 2,
                   "AC" + "0123456789abcdef" * 2 + " x"),
    "sendgrid_api_key": ("SG." + "aBcD_" * 4 + "ef" + "." + "G1h2-" * 8 + "ijk" + "\n",
                         "SG." + "aBcD_" * 4 + "ef." + "G1h2-" * 8 + "ijk", "SG.short.value"),
    "npm_token": ("//registry.npmjs.org/ npm_" + "a1B2c3" * 6 + "\n", "npm_" + "a1B2c3" * 6, "npm_install_done"),
    "pypi_token": ("pypi-AgEIcHlwaS5vcmc" + "CJDk4" * 12 + "\n", "pypi-AgEIcHlwaS5vcmc" + "CJDk4" * 12,
                   "pip install pypi-simple"),
    "jwt": (f"Bearer-less {JWT} done", JWT, "eyJhbGciOiJIUzI1NiJ9 alone is a header"),
    "private_key": (f"key:\n{PEM}\nafter", "MIIEowIBAAKCAQEAx1y2",
                    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0B\n-----END PUBLIC KEY-----"),
    "authorization_header": ("Authorization: Bearer abc123def456ghi\n", "abc123def456ghi",
                             "Authorization: Bearer <token>\n"),
    "url_credentials": ("db postgres://bob:s3cr3t-pw@db:5432/app", "s3cr3t-pw", "see https://bob@example.com:8080/x"),
    "password_assignment": ("DB_PASSWORD=hunter2xyz\n", "hunter2xyz", "password = get_password()\n"),
}
