"""The result type of the injection scan and the one way to quote matched text safely."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_DETAIL = 80
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class Finding:
    """One suspicious construct.

    Attributes:
        kind: stable code (``instruction_override``, ``role_marker``, ``special_token``,
            ``invisible_unicode``, ``bidi_control``, ``ansi_escape``, ``exfiltration_link``,
            ``exfiltration_instruction``, ``prompt_leak``, ``concealment``, ``control_character``,
            ``forged_marker``);
            policies and audit queries use it.
        detail: short text safe to show: at most ~80 characters, invisible characters escaped.
    """

    kind: str
    detail: str


def quote(text: str, limit: int = MAX_DETAIL) -> str:
    """``text`` shortened to ``limit`` characters with every invisible or control character escaped.

    A finding's detail is shown to people and models; it must not carry the very characters it
    warns about, nor a long payload.
    """
    out: list[str] = []
    size = 0
    for char in text:
        piece = char
        if char not in " " and (unicodedata.category(char) in _UNSAFE_CATEGORIES or char.isspace()):
            piece = f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"
        if size + len(piece) > limit:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)
