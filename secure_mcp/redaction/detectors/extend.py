"""Backward extensions: the part of a secret before the literal its pattern is anchored on.

Each runs in time linear in what it consumes and never crosses ``floor`` (the end of the previous
hit, or the start of the text), so the engine's output stays ordered and its total work linear.
"""

from __future__ import annotations

_URLSAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
JWT_HEADER_MAX = 200
KEY_BODY_MAX = 64 << 10  # a 16384-bit RSA key is ~12 KiB of base64
KEY_LINE_MIN = 16


def jwt_header_start(data: bytes, start: int, floor: int) -> int:
    """Back over the URL-safe characters of the header before its '"alg"' (at most 200)."""
    limit = max(floor, start - JWT_HEADER_MAX)
    while start > limit and data[start - 1] in _URLSAFE:
        start -= 1
    return start


def _separator_before(data: bytes, position: int, floor: int) -> int:
    # Length of the newline (raw or escaped as \n / \r\n in a string) ending just before position.
    if position - 2 >= floor and data[position - 2 : position] == b"\r\n":
        return 2
    if position - 1 >= floor and data[position - 1 : position] == b"\n":
        return 1
    if position - 4 >= floor and data[position - 4 : position] == b"\\r\\n":
        return 4
    if position - 2 >= floor and data[position - 2 : position] == b"\\n":
        return 2
    return 0


def key_body_start(data: bytes, start: int, floor: int) -> int:
    """Back over whole base64 lines of 16+ characters before an END line (`tail -3 id_rsa`).

    Only whole lines count (a line starts after a newline, an escaped newline, a quote or at
    ``floor``), so the last word of a preceding prompt or sentence is never swallowed.
    """
    limit = max(floor, start - KEY_BODY_MAX)
    while True:
        sep = _separator_before(data, start, limit)
        if not sep:
            return start
        line_end = start - sep
        line_start = line_end
        while line_start > limit and data[line_start - 1] in _BASE64:
            if data[line_start - 2 : line_start] == b"\\n":
                break  # the "n" of an escaped newline is no base64 character here
            line_start -= 1
        whole = line_start == floor or _separator_before(data, line_start, limit) > 0 or (
            line_start > limit and data[line_start - 1 : line_start] == b'"'
        )
        if line_end - line_start < KEY_LINE_MIN or not whole:
            return start
        start = line_start
