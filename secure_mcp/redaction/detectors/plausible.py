"""Checks that tell a secret value from code, placeholders and prose after a secret-looking key.

Only the generic assignment detector uses them: a vendor prefix is proof enough, a key name is not
(``password = get_password()``, ``token: str``, ``password: ********``).
"""

from __future__ import annotations

import re2

from secure_mcp.redaction.markers import MARKER_PREFIX

# Words that follow "key = " or "key: " in code and schemas, never as a secret.
_CODE_WORDS = frozenset(
    {
        "none", "null", "nil", "true", "false", "undefined", "str", "string", "int", "bytes", "bool",
        "boolean", "number", "object", "any", "optional", "required", "self", "this", "await", "new",
        "lambda", "function", "return", "yield", "secret", "password", "token", "redacted", "hidden",
        "empty", "unset", "changeme_in_prod", "env", "environ", "getenv", "input", "prompt", "os",
        "secretstr", "field", "list", "dict", "text", "varchar", "char", "sensitive", "masked",
    }
)
_IDENTIFIER = re2.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CAMEL_TYPE = re2.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+")
_HIDING_CHARS = frozenset("*.•·●")
_PLACEHOLDER_OPENERS = ("${", "{{", "<", "$(", "{", "process.env", "os.environ", "self.", "this.", "cls.")
# A shell or dotenv reference to another variable ($DB_PASSWORD): the name of where the secret
# lives, not the secret. ("%NAME%" is not treated so: "%A00...0%" is as likely a password.)
_VARIABLE_REFERENCE = re2.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
# printf-style fields ("%s", "%(password)s"); only whole, as "%s0000" may be a password.
_FORMAT_FIELD = re2.compile(r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[sdr](?:\\[nrt])*")
# A call or a subscript (`os.getenv("X")`, `auth[1]`, `colorize(...)`): code, not a value.
_CALL_OR_INDEX = re2.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?:\(.*\)|\[.*\])[,;]?")


def _is_placeholder(value: str) -> bool:
    stripped = value.strip()
    if stripped.startswith(_PLACEHOLDER_OPENERS) or MARKER_PREFIX in stripped:
        return True
    if any(p.fullmatch(stripped) is not None for p in (_VARIABLE_REFERENCE, _FORMAT_FIELD, _CALL_OR_INDEX)):
        return True
    # "********", "....", "•••": a value already hidden by whoever wrote it. Letters, digits and
    # other punctuation repeated are kept as values: "000000000000000000" may be a real password.
    return len(set(stripped)) <= 1 and stripped[:1] in _HIDING_CHARS


def is_plausible_value(value: str) -> bool:
    """Whether ``value`` after ``KEY=`` (no spaces) could be a real secret."""
    if len(value) < 3 or _is_placeholder(value):
        return False
    return value.rstrip(",;").lower() not in _CODE_WORDS  # "None," ends a keyword argument


def is_plausible_code_value(value: str) -> bool:
    """Whether ``value`` after ``key = `` or ``key:`` could be a real secret.

    Stricter than :func:`is_plausible_value`: here an unquoted identifier is usually a variable
    (``token = tok.value``) or a type (``password: SecretStr``), and a number is a setting.
    """
    if not is_plausible_value(value):
        return False
    if value.isdigit():
        return False
    if _IDENTIFIER.fullmatch(value) is None:
        return True
    if len(value) >= 16 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
        return True  # a long mix of letters and digits is a key, not a variable name
    has_code_shape = "." in value or "_" in value or _CAMEL_TYPE.fullmatch(value) is not None
    return not has_code_shape
