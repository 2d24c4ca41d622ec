"""Cloud provider credentials: AWS, Google Cloud and Azure."""

from __future__ import annotations

from .base import END_DASH, Detector, Rule

_SEP = r"""["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?"""
_B64 = r"[A-Za-z0-9/+]"
_B64_END = r"(?:[^A-Za-z0-9/+=]|$)"
_AKID = r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}"

AWS_ACCESS_KEY_ID = Detector(
    "aws_access_key_id",
    (
        # A key id followed by its secret, as in the credentials.csv AWS lets users download.
        Rule(
            rf"\b(?P<s>{_AKID})(?:[ \t]*[,;|][ \t]*|[ \t]+)(?P<s2>{_B64}{{40}}){_B64_END}",
            group_kinds={"s2": "aws_secret_access_key"},
        ),
        Rule(rf"\b(?P<s>{_AKID})\b"),
    ),
    "AWS access key ids (AKIA..., ASIA... and the other IAM unique-id prefixes)",
)

AWS_SECRET_ACCESS_KEY = Detector(
    "aws_secret_access_key",
    (
        Rule(
            r"(?i:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key)"
            rf"{_SEP}(?P<s>{_B64}{{40}}){_B64_END}"
        ),
    ),
    "AWS secret access keys next to their name (assignments, JSON, INI, env files)",
)

AWS_SESSION_TOKEN = Detector(
    "aws_session_token",
    (
        Rule(
            r"(?i:aws[_.-]?session[_.-]?token|aws[_.-]?security[_.-]?token|x-amz-security-token|sessiontoken)"
            rf"{_SEP}(?P<s>[A-Za-z0-9/+=]{{100}}[A-Za-z0-9/+=]*)"
        ),
        # STS tokens are base64 of a binary blob with a fixed header; the prefix is enough context.
        Rule(r"\b(?P<s>(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]{60}[A-Za-z0-9/+=]*)"),
    ),
    "AWS STS session tokens",
)

GOOGLE_API_KEY = Detector(
    "google_api_key",
    (Rule(rf"\b(?P<s>AIza[0-9A-Za-z_-]{{35}}){END_DASH}"),),
    "Google API keys (AIza...)",
)

GOOGLE_OAUTH_SECRET = Detector(
    "google_oauth_secret",
    (
        Rule(rf"\b(?P<s>GOCSPX-[A-Za-z0-9_-]{{28}}){END_DASH}"),
        Rule(rf"\b(?P<s>ya29\.[0-9A-Za-z_-]{{20,1000}}){END_DASH}"),
    ),
    "Google OAuth client secrets (GOCSPX-...) and access tokens (ya29....)",
)

GCP_SERVICE_ACCOUNT_KEY = Detector(
    "gcp_service_account_key",
    # The whole JSON string value, whatever escapes it holds; the PEM detector is the fallback
    # when the value is cut off before its closing quote.
    (Rule(r'"private_key"[ \t]*:[ \t]*"(?P<s>-----BEGIN[A-Z ]{0,30}PRIVATE KEY-----[^"]*)"'),),
    "the private_key field of Google service-account JSON",
)

AZURE_STORAGE_KEY = Detector(
    "azure_storage_key",
    (
        Rule(r"(?i:AccountKey|SharedAccessKey)[ \t]*=[ \t]*(?P<s>[A-Za-z0-9+/]{40,100}={0,2})" + _B64_END),
        # The signature of a SAS URL or connection string grants the same access as the key.
        Rule(r"(?:[?&;]|\b)(?i:sig)=(?P<s>[A-Za-z0-9%+/]{30,120}(?:=|%3[Dd]){0,2})" + r"(?:[^A-Za-z0-9%+/=]|$)"),
    ),
    "Azure storage account keys and SAS signatures (connection strings, SAS URLs)",
)

DETECTORS = (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    GOOGLE_API_KEY,
    GOOGLE_OAUTH_SECRET,
    GCP_SERVICE_ACCOUNT_KEY,
    AZURE_STORAGE_KEY,
)
