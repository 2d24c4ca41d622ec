"""Redaction and sanitize throughput: ours vs detect-secrets, on generated mixed text.

Run: python bench/redaction_bench.py [--mib 10] [--skip-detect-secrets]
Everything is generated locally and deterministically (seed 8); nothing touches the network.
"""

from __future__ import annotations

import argparse
import base64
import random
import string
import time
from collections.abc import Callable

from secure_mcp.injection import scan
from secure_mcp.redaction import Redactor
from secure_mcp.redaction.detectors import REGISTRY
from secure_mcp.redaction.engine import compile_one

MIB = 1 << 20
# Wall-clock by default; --cpu-time measures this process's CPU time instead, the honest figure on
# a shared machine whose other jobs take the cores (it excludes time spent waiting for a core).
_CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = _CLOCKS["wall"]
R = random.Random(8)


def _s(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


AN = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = AN + "+/"
URLSAFE = AN + "_-"

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PEM_HEAD, PEM_FOOT = "-----BEGIN RSA PRIVATE KEY-----\n", "\n-----END RSA PRIVATE KEY-----"
AZURE = "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={s};EndpointSuffix=core.windows.net"

# kind -> (line template with {s}, generator of the secret)
SECRETS: dict[str, tuple[str, Callable[[], str]]] = {
    "aws_access_key_id": ("export AWS_ACCESS_KEY_ID={s}", lambda: "AKIA" + _s(BASE32, 16)),
    "aws_secret_access_key": ("aws_secret_access_key = {s}", lambda: _s(B64, 40)),
    "github_token": ("remote: using token {s}", lambda: "ghp_" + _s(AN, 36)),
    "github_fine_grained": ('"token": "{s}"', lambda: "github_pat_" + _s(AN, 22) + "_" + _s(AN, 59)),
    "gitlab_token": ("GITLAB_TOKEN={s}", lambda: "glpat-" + _s(URLSAFE, 20)),
    "slack_token": ("slack bot {s} connected", lambda: "xoxb-" + _s(string.digits, 12) + "-" + _s(AN, 24)),
    "slack_webhook": (
        "POST {s} 200",
        lambda: "https://hooks.slack.com/services/T" + _s(AN, 10) + "/B" + _s(AN, 10) + "/" + _s(AN, 24),
    ),
    "stripe_key": ("stripe.api_key = '{s}'", lambda: "sk_live_" + _s(AN, 24)),
    "openai_api_key": ("OPENAI_API_KEY={s}", lambda: "sk-proj-" + _s(URLSAFE, 74) + "T3BlbkFJ" + _s(URLSAFE, 74)),
    "anthropic_api_key": ('client = Anthropic(api_key="{s}")', lambda: "sk-ant-api03-" + _s(URLSAFE, 93) + "AA"),
    "google_api_key": ("<script>const key = '{s}';</script>", lambda: "AIza" + _s(URLSAFE, 35)),
    "sendgrid_api_key": ("sg {s} ok", lambda: "SG." + _s(URLSAFE, 22) + "." + _s(URLSAFE, 43)),
    "npm_token": ("//registry.npmjs.org/:_authToken={s}", lambda: "npm_" + _s(AN, 36)),
    "pypi_token": ("password = {s}", lambda: "pypi-AgEIcHlwaS5vcmc" + _s(URLSAFE, 60)),
    "twilio_key": ("twilio api key {s}", lambda: "SK" + _s(HEX, 32)),
    "jwt": (
        "Cookie: session={s}",
        lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" + _s(URLSAFE, 40) + "." + _s(URLSAFE, 43),
    ),
    "private_key": ("{s}", lambda: PEM_HEAD + "\n".join(_s(B64, 64) for _ in range(12)) + PEM_FOOT),
    "url_credentials": ("DATABASE_URL=postgres://app:{s}@db:5432/app", lambda: _s(AN, 16)),
    "password_assignment": ("  password: {s}", lambda: _s(AN, 6) + "!" + _s(AN, 6)),
    "azure_storage_key": (AZURE, lambda: _s(B64, 86) + "=="),
    # Added for 0.2 (issue 17): the server's own tokens, JWTs not spelled "eyJ", key tails without
    # BEGIN, passwords starting with punctuation, quoted identifiers, KEY=value inside quotes.
    "smcp_token": ("Authorization: Bearer {s}", lambda: "smcp_" + _s(URLSAFE, 43)),
    "jwt_spaced_header": ("id_token: {s}", lambda: _jwt_spaced()),
    "private_key_tail": ("$ tail -3 id_rsa\n{s}", lambda: _key_tail()),
    "password_punctuation": ("DB_PASSWORD={s}", lambda: R.choice("#%!") + _s(AN + "#%!", 17)),
    "password_quoted_identifier": ('{{"password": "{s}"}}', lambda: _s(string.ascii_letters, 6) + _s(string.digits, 4)),
    "password_in_quotes": ("docker run -e 'API_TOKEN={s}' app", lambda: _s(AN, 20)),
}


def _b64url(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()


def _jwt_spaced() -> str:
    header = _b64url('{ "alg": "RS256", "kid": "' + _s(AN, 8) + '" }')
    payload = _b64url('{ "sub": "' + _s(AN, 12) + '" }')
    return f"{header}.{payload}.{_s(URLSAFE, 43)}"


def _key_tail() -> str:
    return f"{_s(B64, 64)}\n{_s(B64, 64)}\n{_s(B64, 20)}==\n-----END RSA PRIVATE KEY-----"


def benign_line(i: int) -> str:
    kind = i % 7
    if kind == 6:
        # Code and configuration that use secret words without a secret (issue 17's rules must keep them).
        return (
            f"        client = Client(token=token, password=self._password, secret=None)  # {i}\n"
            f'      - "POSTGRES_PASSWORD=${{POSTGRES_PASSWORD}}"  # compose {i}'
        )
    if kind == 0:
        return (
            f"2024-05-01T12:{i % 60:02d}:00Z INFO req={R.getrandbits(64):016x} "
            f"path=/api/v1/items/{i} status=200 ms={i % 97}"
        )
    if kind == 1:
        return (
            f'{{"id": "{R.getrandbits(128):032x}", "sha256": "{R.getrandbits(256):064x}", '
            f'"name": "item {i}", "ok": true}}'
        )
    if kind == 2:
        image = f'<img src="data:image/png;base64,{_s(B64, 60)}=">'
        return f'<div class="row"><a href="https://example.com/p/{i}">Item {i}</a> {image}</div>'
    if kind == 3:
        return f"    def handler_{i}(self, password: str, token=None):  # commit {R.getrandbits(160):040x}"
    if kind == 4:
        return f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_s(B64, 43)} user{i}@host"
    return "Lorem ipsum dolor sit amet, the password field must not be empty; enter your password below."


def build(size: int, n_secrets: int) -> tuple[str, str, list[tuple[str, str]]]:
    lines: list[str] = []
    total = 0
    while total < size:
        line = benign_line(len(lines))
        lines.append(line)
        total += len(line) + 1
    benign = "\n".join(lines)
    kinds = list(SECRETS)
    planted: list[tuple[str, str]] = []
    for j in range(n_secrets):
        kind = kinds[j % len(kinds)]
        template, make = SECRETS[kind]
        secret = make()
        line = template.format(s=secret)
        lines.insert(R.randrange(len(lines)), line)
        planted.append((kind, secret))
    return "\n".join(lines), benign, planted


def best_of(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = _clock()
        fn()
        times.append(_clock() - started)
    return min(times)


def ours(text: str, benign: str, planted: list[tuple[str, str]]) -> tuple[float, int, int]:
    redactor = Redactor()
    redactor.redact(text[:100000])  # warm the DFA cache
    out = redactor.redact(text).text
    seconds = best_of(lambda: redactor.redact(text))
    recall = sum(1 for _, secret in planted if all(part not in out for part in secret.split("\n")))
    false_hits = sum(redactor.redact(benign).counts.values())
    return seconds, recall, false_hits


def detect_secrets_run(text: str, benign: str, planted: list[tuple[str, str]]) -> tuple[float, int, int]:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    def run(t: str) -> list[str]:
        found: list[str] = []
        with default_settings():
            for line in t.splitlines():
                found.extend(s.secret_value or "" for s in scan_line(line))
        return found

    started = _clock()
    found = run(text)
    seconds = _clock() - started
    values = set(found)
    recall = sum(1 for _, secret in planted if any(secret == v or (secret in v) for v in values))
    false_hits = len(run(benign))
    return seconds, recall, false_hits


def sanitize_speed(size: int) -> float:
    words = ["Привет мир", "你好世界", "مرحبا بالعالم", "hello world", "Grüße", "こんにちは", "the system",
             "γειά σου", "नमस्ते", "ignore the warning", "instructions", "def f(x): return x"]
    text = " ".join(R.choice(words) for _ in range(size // 8))
    scan(text[:10000])
    seconds = best_of(lambda: scan(text))
    return len(text.encode()) / MIB / seconds


def worst_pattern(mb: int = MIB) -> tuple[str, float]:
    seeds = ["password=", "-----BEGIN PRIVATE KEY-----\n", "eyJ" + "a" * 20 + ".", "x://a:" + "b" * 50, "A" * 64,
             "AKIA", "ghp_", "sk-ant-api03-", "glpat-", "a:", "\\n", "IQoJb3JpZ2lu", "AccountKey=", " = '"]
    worst = ("", 0.0)
    for detector in REGISTRY.values():
        for i, rule in enumerate(detector.rules):
            regex = compile_one(rule.pattern)
            for seed in seeds:
                data = (seed * (mb // len(seed) + 1)).encode()[:mb]
                started = _clock()
                for _ in regex.finditer(data):
                    pass
                elapsed = _clock() - started
                if elapsed > worst[1]:
                    worst = (f"{detector.name}[{i}] on {seed[:16]!r}*", elapsed)
    return worst


def worst_rejections(mb: int = MIB) -> tuple[str, float]:
    """The whole redactor on 1 MB of candidates that every check rejects (the slow path per hit)."""
    seeds = ["password=None\n", "token: str\n", '{"password": "null"}\n', "-ImFsZy.aa.b ", "x JhbGciOi.ab.c\n",
             "DB_PASSWORD=${DB_PASSWORD}\n", "f(token=tok) ", "-----END PUBLIC KEY-----\n", "smcp_short "]
    redactor = Redactor()
    worst = ("", 0.0)
    for seed in seeds:
        text = (seed * (mb // len(seed) + 1))[:mb]
        started = _clock()
        redactor.redact(text)
        elapsed = _clock() - started
        if elapsed > worst[1]:
            worst = (f"{seed.strip()[:24]!r}*", elapsed)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=float, default=10.0)
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--skip-detect-secrets", action="store_true")
    parser.add_argument("--cpu-time", action="store_true", help="time with process CPU time, not wall-clock")
    args = parser.parse_args()
    global _clock
    _clock = _CLOCKS["cpu" if args.cpu_time else "wall"]
    text, benign, planted = build(int(args.mib * MIB), args.secrets)
    mib = len(text.encode()) / MIB
    clock = "process CPU time" if args.cpu_time else "wall-clock"
    print(f"text: {mib:.1f} MiB, {len(planted)} secrets of {len({k for k, _ in planted})} kinds ({clock})\n")
    print(f"{'engine':<16}{'MiB/s':>10}{'recall (whole)':>18}{'false hits':>12}")
    seconds, recall, false_hits = ours(text, benign, planted)
    print(f"{'secure-mcp':<16}{mib / seconds:>10.1f}{f'{recall}/{len(planted)}':>18}{false_hits:>12}")
    if not args.skip_detect_secrets:
        seconds, recall, false_hits = detect_secrets_run(text, benign, planted)
        print(f"{'detect-secrets':<16}{mib / seconds:>10.2f}{f'{recall}/{len(planted)}':>18}{false_hits:>12}")
    print(f"\nsanitize scan (normalisation included), mixed-script text: {sanitize_speed(4 * MIB):.1f} MiB/s")
    name, seconds = worst_pattern()
    print(f"per-pattern worst case on 1 MB crafted input: {seconds * 1000:.1f} ms ({name})")
    name, seconds = worst_rejections()
    print(f"whole redactor on 1 MB of rejected candidates, worst: {seconds * 1000:.0f} ms ({name})")


if __name__ == "__main__":
    main()
