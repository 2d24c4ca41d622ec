"""Classification of characters that must never appear in a workspace path.

Kept apart from ``paths.py`` because the diff renderer uses the same predicates to make such
characters visible to the human who confirms a write.
"""

from __future__ import annotations

import unicodedata

# Explicit bidi controls (embeddings, overrides, isolates) and the implicit marks. They reorder
# how a name is displayed, so a confirmation prompt could show one path while another is written.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_control_character(ch: str) -> bool:
    """Whether ``ch`` is a C0/C1 control, DEL, or a Unicode line/paragraph separator.

    Terminals and log viewers act on these instead of printing them, which lets a name rewrite
    what a human sees.
    """
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or unicodedata.category(ch) in ("Zl", "Zp")


def is_bidi_control(ch: str) -> bool:
    """Whether ``ch`` is a bidirectional control character."""
    return ch in _BIDI_CONTROLS


def is_invisible_format(ch: str) -> bool:
    """Whether ``ch`` is an invisible format character (category Cf: zero-width joiners, BOM ...).

    Two names that differ only in such a character look identical to a reviewer.
    """
    return unicodedata.category(ch) == "Cf"


def is_surrogate(ch: str) -> bool:
    """Whether ``ch`` is a lone UTF-16 surrogate, which has no UTF-8 encoding."""
    return 0xD800 <= ord(ch) <= 0xDFFF


def visible(ch: str) -> str:
    """Render a character safely: itself when harmless, else an escape such as ``<U+202E>``."""
    if ch == "\t" or not (is_control_character(ch) or is_invisible_format(ch) or is_surrogate(ch)):
        return ch
    return f"<U+{ord(ch):04X}>"
