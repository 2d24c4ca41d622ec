"""The redaction marker and its detection, shared by the redactor and the write_file guard."""

from __future__ import annotations

import re
import unicodedata

MARKER_PREFIX = "[REDACTED:"

# One character class: Python's re cannot backtrack on it, so it stays linear. Invisible format
# characters are dropped before the look-up so "[RED\u200bACTED:" is still seen as a marker.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff]")
_FOLDED_PREFIX = MARKER_PREFIX.casefold()


def marker(kind: str) -> str:
    """The placeholder that replaces one secret of ``kind``."""
    return f"{MARKER_PREFIX}{kind}]"


def contains_marker(text: str) -> bool:
    """Whether ``text`` holds a redaction marker, also in look-alike or invisible-split form.

    write_file refuses such content, so an agent cannot overwrite a real secret with its mask. The
    check folds case and applies NFKC so full-width brackets and letters count too.
    """
    if MARKER_PREFIX in text:
        return True
    if text.isascii():
        return _FOLDED_PREFIX in text.casefold()
    folded = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).casefold()
    return _FOLDED_PREFIX in folded
