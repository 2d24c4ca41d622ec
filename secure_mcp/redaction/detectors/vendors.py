"""Tokens of code hosts, package registries and SaaS APIs, recognised by their fixed prefixes."""

from __future__ import annotations

from .base import END_DASH, Detector, Rule

GITHUB_TOKEN = Detector(
    "github_token",
    (
        # ghp_ classic PAT, gho_ OAuth, ghu_ user-to-server, ghs_ app installation, ghr_ refresh.
        Rule(r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,251})\b"),
        Rule(r"\b(?P<s>github_pat_[A-Za-z0-9_]{60,251})\b"),
    ),
    "GitHub classic, fine-grained, OAuth, app and refresh tokens",
)

GITLAB_TOKEN = Detector(
    "gitlab_token",
    (
        Rule(
            r"\b(?P<s>gl(?:pat|dt|rt|ptt|cbt|imt|oas|ft|soat|ffct|agent)-[A-Za-z0-9_-]{20,255}"
            r"(?:\.[0-9a-z]{2}\.[0-9a-z]{6,12})?)" + END_DASH
        ),
        Rule(rf"\b(?P<s>GR1348941[A-Za-z0-9_-]{{20,60}}){END_DASH}"),
    ),
    "GitLab personal, deploy, runner, trigger and OAuth tokens",
)

SLACK_TOKEN = Detector(
    "slack_token",
    (
        Rule(r"\b(?P<s>xox[abposre]-[A-Za-z0-9-]{10,250})"),
        Rule(r"\b(?P<s>xapp-[0-9]-[A-Z0-9]{6,20}-[0-9]{6,20}-[a-f0-9]{20,80})\b"),
    ),
    "Slack bot, user, app and refresh tokens",
)

SLACK_WEBHOOK = Detector(
    "slack_webhook",
    (Rule(r"(?P<s>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,200})"),),
    "Slack incoming webhook URLs (the URL is the credential)",
)

STRIPE_KEY = Detector(
    "stripe_key",
    (Rule(r"\b(?P<s>(?:sk|rk)_live_[A-Za-z0-9]{20,247})\b"),),
    "Stripe live secret and restricted keys (publishable pk_ keys are public and kept)",
)

OPENAI_API_KEY = Detector(
    "openai_api_key",
    (
        Rule(rf"\b(?P<s>sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{{16,200}}T3BlbkFJ[A-Za-z0-9_-]{{16,200}}){END_DASH}"),
        Rule(rf"\b(?P<s>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{40,250}}){END_DASH}"),
    ),
    "OpenAI API keys (legacy, project, service-account and admin)",
)

ANTHROPIC_API_KEY = Detector(
    "anthropic_api_key",
    (Rule(rf"\b(?P<s>sk-ant-(?:api|admin|sid|oat|ort)[0-9]{{2}}-[A-Za-z0-9_-]{{32,200}}){END_DASH}"),),
    "Anthropic API and admin keys",
)

TWILIO_KEY = Detector(
    "twilio_key",
    (
        Rule(r"\b(?P<s>SK[0-9a-fA-F]{32})\b"),
        Rule(
            r"(?i:twilio[_.-]?(?:auth[_.-]?)?token|twilio[_.-]?secret)"
            r"""["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?(?P<s>[0-9a-fA-F]{32})\b"""
        ),
    ),
    "Twilio API key SIDs and auth tokens (account SIDs are identifiers and kept)",
)

SENDGRID_API_KEY = Detector(
    "sendgrid_api_key",
    (Rule(rf"\b(?P<s>SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}){END_DASH}"),),
    "SendGrid API keys",
)

NPM_TOKEN = Detector(
    "npm_token",
    (Rule(r"\b(?P<s>npm_[A-Za-z0-9]{36})\b"),),
    "npm access tokens",
)

PYPI_TOKEN = Detector(
    "pypi_token",
    (Rule(r"\b(?P<s>pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{40}[A-Za-z0-9_-]*)"),),
    "PyPI and TestPyPI API tokens (macaroons)",
)

SMCP_TOKEN = Detector(
    "smcp_token",
    # secure-mcp's own static bearer tokens: "smcp_" + token_urlsafe(32), i.e. exactly 43 URL-safe
    # characters (see secure_mcp/http/tokens.py). A token passed on in a tool argument or printed
    # by a command must not reach the audit log or the model.
    (Rule(rf"\b(?P<s>smcp_[A-Za-z0-9_-]{{43}}){END_DASH}"),),
    "secure-mcp static bearer tokens (smcp_...)",
)

DETECTORS = (
    SMCP_TOKEN,
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    SLACK_TOKEN,
    SLACK_WEBHOOK,
    STRIPE_KEY,
    ANTHROPIC_API_KEY,
    OPENAI_API_KEY,
    TWILIO_KEY,
    SENDGRID_API_KEY,
    NPM_TOKEN,
    PYPI_TOKEN,
)
