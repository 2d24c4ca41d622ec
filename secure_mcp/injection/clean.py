"""Output cleaning: what a model or a terminal would act on but a person cannot see."""

from __future__ import annotations

from .ansi import strip_ansi
from .unicode import strip_invisible


def clean_output(text: str) -> str:
    """``text`` without ANSI escapes, control characters, invisible/tag characters and bidi controls.

    Tabs and newlines stay. ZWJ/ZWNJ stay only between two non-ASCII characters, where emoji
    sequences and Persian or Indic scripts need them; next to ASCII they only hide things.
    """
    return strip_invisible(strip_ansi(text))
