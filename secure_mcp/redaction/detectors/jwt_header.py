"""Whether a dotted token is a JWT, decided as a verifier decides: by decoding its header.

A prefix test ("eyJ") misses headers a verifier accepts just the same: PyJWT base64url-decodes the
first segment and hands the bytes to ``json.loads``, which takes whitespace before and inside the
object, a UTF-8 byte order mark, and UTF-16/32. So the check repeats exactly that and asks for an
object with a string ``alg``, the one member every JWS header has.
"""

from __future__ import annotations

import base64
import binascii
import json

MAX_HEADER_CHARS = 4096  # no real header is longer; a longer segment is not decoded


def is_jwt(token: str) -> bool:
    """True when the first of the dot-separated segments is base64url JSON with a string ``alg``."""
    header, _, rest = token.partition(".")
    if not rest or not header or len(header) > MAX_HEADER_CHARS:
        return False
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return False
    return isinstance(decoded, dict) and isinstance(decoded.get("alg"), str)
