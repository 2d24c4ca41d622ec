"""Secrets recognised by structure rather than vendor prefix: JWTs, private key blocks,
Authorization headers, passwords in URLs and secret-looking assignments."""

from __future__ import annotations

from .base import Detector, Rule
from .extend import jwt_header_start, key_body_start
from .jwt_header import is_jwt
from .plausible import is_plausible_code_value, is_plausible_value

# The base64url spellings of '"alg"' at each of the three byte alignments. Every JWT header holds
# that key, so a first segment without one of them cannot be a header; the rule's check then decodes
# the segment to decide.
_ALG_B64 = r"(?:ImFsZy|JhbGci|iYWxnI)"
JWT = Detector(
    "jwt",
    (
        # What every library emits: header and payload are compact JSON objects, so both start with
        # "eyJ" ('{"'). No check needed.
        Rule(r"\b(?P<s>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*)"),
        # Any other spelling a verifier accepts ('{ "alg"...' is "eyAi...", a BOM, leading
        # whitespace, a payload that is not "eyJ"): anchored on the spelling of "alg", extended back
        # over the rest of the header, and decided by decoding the header.
        Rule(
            rf"(?P<s>{_ALG_B64}[A-Za-z0-9_-]{{0,200}}\.[A-Za-z0-9_-]{{2,}}\.[A-Za-z0-9_-]*)",
            is_secret=is_jwt,
            extend_back=jwt_header_start,
        ),
    ),
    "JSON Web Tokens (signed or unsigned), recognised by decoding the header",
)

_PEM_LABEL = r"[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
# A lone "-" may appear (DEK-Info, AES-128-CBC) but never "--": the lazy search for the footer
# then stops at the next dashes, so a header repeated a million times stays a linear scan.
_PEM_BODY = r"(?:[A-Za-z0-9+/=:,. \t\r\n]|\\[rn]|-[A-Za-z0-9+/=:,. \t\r\n])"
_PEM_OPEN_BODY = r"(?:[A-Za-z0-9+/=]|\r?\n|(?:\\r)?\\n|[A-Za-z-]{1,20}: [^\r\n\\]{0,200}(?:\r?\n|\\n))"
# Pieces of a key without its BEGIN line (`tail -3 id_rsa`, the second half of a split key) start
# a line, or follow an escaped newline or the opening quote of a JSON string.
_FRAGMENT_START = r'(?:(?m:^)|\\n|")'
_LINE_SEP = r"(?:\r?\n|(?:\\r)?\\n)"  # a newline, or one escaped in a JSON or Python string
_B64_LINE = r"[A-Za-z0-9+/=]{16,}"
_B64_LAST_LINE = r"[A-Za-z0-9+/=]{4,15}"  # the short last line of a body, only right before END
_END_LINE = rf"(?:{_LINE_SEP}(?:{_B64_LAST_LINE}{_LINE_SEP})?-----END{_PEM_LABEL})"
# The first body line of a private key, recognised by its structure rather than by a BEGIN line:
# DER "SEQUENCE { INTEGER 0|1, ..." (PKCS#1 RSA/DSA, SEC1 EC, PKCS#8) in its three length forms,
# base64-encoded; or the OpenSSH container's magic "openssh-key-v1". Certificates, public keys and
# CSRs start with a SEQUENCE inside the SEQUENCE, so they do not match.
_DER_PRIVATE = (
    r"(?:MI[IJKL][A-Za-z0-9+/]{2}[AQgw]IBA[ADQT][A-DI-LQ-T]"  # SEQUENCE, 2-byte length
    r"|MI[GH][A-Za-z0-9+/]AgE[AB][ABM]"  # SEQUENCE, 1-byte long-form length
    r"|M[A-Za-z0-9+/]{2}CAQ[AE][CEw]"  # SEQUENCE, short length
    r"|b3BlbnNzaC1rZXktdjE)"  # "openssh-key-v1"
)
PRIVATE_KEY = Detector(
    "private_key",
    (
        # The whole block up to its footer; a block cut off before its footer is masked as far as
        # its base64 body runs (a header alone is no secret), so a truncated key still leaks nothing.
        Rule(rf"(?P<s>-----BEGIN{_PEM_LABEL}(?:{_PEM_BODY}*?-----END{_PEM_LABEL}|(?:\r?\n|\\n)?[A-Za-z0-9+/=]{{16}}{_PEM_OPEN_BODY}*))"),
        # A body that starts with a private key's structure, without its BEGIN line, to its END line
        # or as far as it runs.
        Rule(rf"{_FRAGMENT_START}(?P<s>{_DER_PRIVATE}[A-Za-z0-9+/=]{{8,}}(?:{_LINE_SEP}{_B64_LINE})*{_END_LINE}?)"),
        # The tail of a body and its END line (`tail -3 id_rsa`): anchored on the END line, which
        # starts a line (not a quoted constant in code), and extended back over whole base64 lines.
        # An END line alone still names a private key and is masked too.
        Rule(
            rf"(?:(?m:^)|\\n)(?P<s>(?:{_B64_LAST_LINE}{_LINE_SEP})?-----END{_PEM_LABEL})",
            extend_back=key_body_start,
        ),
    ),
    "PEM, OpenSSH, PKCS#8 and PGP private key blocks, whole; key bodies and END lines on their own",
)

AUTHORIZATION_HEADER = Detector(
    "authorization_header",
    (
        Rule(
            r"""(?i:(?:proxy-)?authorization)["']?[ \t]*[:=][ \t]*["']?(?i:bearer|basic|token|digest)[ \t]+"""
            r"(?P<s>[A-Za-z0-9._~+/=-]{8}[A-Za-z0-9._~+/=-]*)"
        ),
    ),
    "credentials in HTTP Authorization headers",
)

URL_CREDENTIALS = Detector(
    "url_credentials",
    # Greedy up to the last "@" of the authority, so a password with a raw "@" is masked whole.
    # Anchored on "://" with one scheme character before it: a pattern starting with the whole
    # scheme ([A-Za-z][A-Za-z0-9+.-]{1,30}, opened by the prefilter) kept a search thread alive
    # across every long run of such characters, quadratic on a long line of tokens.
    (Rule(r"""[A-Za-z0-9+.-]://[^\s/?#@:"'<>]{0,128}:(?P<s>[^\s/?#"'<>]{1,256})@"""),),
    "the password part of scheme://user:password@host",
)

# Key names that announce a secret value. A prefix must end in "_", "." or "-" (DB_PASSWORD,
# mysql.password) and camelCase keys need the capital (dbPassword), so "bypass" or "compass" do not
# count; "tokens" is deliberately absent ("max_tokens = 1024").
_WORDS = (
    r"password|passwd|passphrase|pass|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?token"
    r"|private[_-]?key|client[_-]?secret|credentials?"
)
_CAMEL = r"Password|Passwd|Passphrase|Pass|Secret|Token|ApiKey|AccessKey|PrivateKey|ClientSecret|Credentials?"
_SUFFIX = r"(?:[_.-]?(?i:key|token|secret|value|str|b64|hash|enc))?"
_KEY = rf"""\b(?:(?:[A-Za-z0-9]{{1,30}}[_.-]){{0,4}}(?i:{_WORDS})|[a-z][A-Za-z0-9]{{0,30}}(?:{_CAMEL})){_SUFFIX}["']?"""
_DQ = r'"(?P<s>(?:[^"\\\r\n]|\\.){1,200})"'
_SQ = r"'(?P<s2>(?:[^'\\\r\n]|\\.){1,200})'"
# An unquoted value starts with anything but whitespace, a quote or "=" (``==`` is a comparison):
# "%oBk...", "#k5Q..." and "!x..." are passwords too. "#" inside a value is part of it; only
# "#" after whitespace starts a comment (dotenv, shell).
_UQ_FIRST = r"""[^\s"'`=]"""
# Inline, the value ends at whitespace, a quote, a bracket, a parenthesis, a backtick, "<" or ">"
# and the separators of query strings and argument lists, so `-e 'API_TOKEN=x'`,
# `<td>password=x</td>` and `href="...?access_token=x"` mask exactly the value.
_UQ_REST = r"""[^\s"'`,;&(){}\[\]<>]"""
# Opening brackets are no end: "token=tok(" and "password=auth[0]" are calls and subscripts.
_UQ_END = r"""(?:[\s"'`;&}\]<>]|$)"""
# Before "," or ")" a bare identifier is a keyword argument in code (`f(token=token, secret=None)`),
# so there the value must hold a digit or punctuation, as generated secrets do: `(API_TOKEN=x7Qm..)`.
_UQ_NOT_IDENT = r"""[^\s"'`,;&(){}\[\]<>A-Za-z_.]"""
# After "key = " / "key: " (code, YAML) the value must end its line; "(" "[" "<" "{" and "," stay
# out of it so calls, generics and literals (get_password(), List[str]) are not values.
_CODE_FIRST = r"""[^\s"'`=(){}\[\]<>,;]"""
_CODE_REST = r"""[^\s"'`,;&(){}\[\]<>]"""
# A dotenv or shell assignment that starts its line: the value is the whole whitespace-free word,
# whatever punctuation it holds ("a;b&c)d" in a .env is one password).
# Not indented: an indented "name=value," is a keyword argument in code, not a dotenv line.
_LINE_KEY = r"(?m:^)(?:export[ \t]+)?"

PASSWORD_ASSIGNMENT = Detector(
    "password_assignment",
    (
        # KEY=value at the start of a line (.env, shell): the value runs to whitespace or the end.
        Rule(
            rf"{_LINE_KEY}{_KEY}=(?:{_DQ}|{_SQ}|(?P<s3>{_UQ_FIRST}[^\s]{{0,200}})(?:\s|$))",
            is_secret=is_plausible_value,
        ),
        # KEY=value with nothing around "=": env files, shell, query strings, INI without spaces.
        Rule(
            rf"{_KEY}(?::=|=)(?:{_DQ}|{_SQ}|(?P<s3>{_UQ_FIRST}{_UQ_REST}{{0,200}}){_UQ_END}"
            rf"|(?P<s4>{_UQ_REST}{{0,100}}{_UQ_NOT_IDENT}{_UQ_REST}{{0,100}})[),])",
            is_secret=is_plausible_value,
        ),
        # "key = 'value'", "key: \"value\"": a quoted value is a literal, never a variable or a
        # type, so it is a secret whatever it looks like ({"password": "MyPassw0rd"}).
        Rule(
            rf"{_KEY}(?:[ \t]+(?::=|=|=>)|[ \t]*:)[ \t]*(?:{_DQ}|{_SQ})",
            is_secret=is_plausible_value,
        ),
        # "key = value", "key: value", "key => value" unquoted: code, YAML, TOML. The value must end
        # its line, so prose such as "password: use a long one" is not a value, and it must not
        # look like code (a variable, a type, a number).
        Rule(
            rf"{_KEY}(?:[ \t]+(?::=|=|=>)|[ \t]*:)[ \t]*"
            rf"(?P<s3>{_CODE_FIRST}{_CODE_REST}{{0,200}})[ \t]*(?:\r?\n|$|\}}|[ \t]#)",
            is_secret=is_plausible_code_value,
        ),
        # Command-line flags: --password=x, --api-key x.
        Rule(
            r"(?:^|[\s\"'])--?(?i:password|passwd|pass|token|api-key|apikey|secret|client-secret|auth-token)"
            rf"(?:=|[ \t]+)(?:{_DQ}|{_SQ}|(?P<s3>[^\s\"'\-$<{{][^\s\"']{{0,200}}))",
            is_secret=is_plausible_value,
        ),
    ),
    "password/secret/token/api_key style assignments in code, config, env files and flags",
)

DETECTORS = (JWT, PRIVATE_KEY, AUTHORIZATION_HEADER, URL_CREDENTIALS, PASSWORD_ASSIGNMENT)
