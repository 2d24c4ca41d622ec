"""Invisible, tag and bidirectional characters: detection on the raw text, and normalisation.

Every pattern here is a single character class (or one character with a one-character look-around),
which Python's ``re`` matches without backtracking, so each check is one linear pass. They run on
``str`` directly, avoiding the UTF-8 round trip a RE2 call needs.
"""

from __future__ import annotations

import re
import unicodedata

from .finding import Finding

# Unicode "tag" characters: invisible copies of ASCII, used to smuggle instructions past people.
_TAG = re.compile("[\U000e0000-\U000e007f]")
# Invisible characters with no legitimate use in prose or code output (ZWJ/ZWNJ are handled apart).
_INVISIBLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0"
    "\ufff9-\ufffb\U000e0100-\U000e01ef]"
)
# Joiners are needed by emoji sequences and Persian or Indic scripts; next to ASCII they only hide.
_JOINER_NEAR_ASCII = re.compile("(?<=[\x00-\x7f])[\u200c\u200d]|[\u200c\u200d](?=[\x00-\x7f])")
# Overrides, embeddings and isolates reorder what is displayed (Trojan Source, CVE-2021-42574).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Everything the normalised copy drops: all of the above plus marks that are harmless alone.
_STRIP = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e0fff]"
)
# Cheap pre-check: any character any rule here cares about.
_ANY = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                  "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e0fff]")


def _codepoints(chars: list[str]) -> str:
    distinct = sorted(set(chars))
    shown = ", ".join(f"U+{ord(c):04X}" for c in distinct[:4])
    return shown + (", …" if len(distinct) > 4 else "")


def _decode_tags(match: re.Match[str]) -> str:
    return chr(ord(match.group()) - 0xE0000)


def unicode_findings(text: str) -> list[Finding]:
    """Findings for invisible, tag and bidi characters in the raw ``text``."""
    if _ANY.search(text) is None:
        return []
    findings: list[Finding] = []
    tags = _TAG.findall(text)
    if tags:
        hidden = _TAG.sub(_decode_tags, "".join(tags))
        findings.append(Finding("invisible_unicode", f"{len(tags)} tag characters hiding: {hidden}"))
    invisible = _INVISIBLE.findall(text.removeprefix("\ufeff")) + _JOINER_NEAR_ASCII.findall(text)
    if invisible:
        findings.append(
            Finding("invisible_unicode", f"{len(invisible)} invisible characters ({_codepoints(invisible)})")
        )
    bidi = _BIDI.findall(text)
    if bidi:
        findings.append(Finding("bidi_control", f"{len(bidi)} bidi controls ({_codepoints(bidi)})"))
    return findings


def normalise(text: str) -> str:
    """The copy phrase detection runs on: tags decoded, invisibles dropped, NFKC, case-folded.

    Decoding tag characters (rather than dropping them) lets the phrase rules read what they hide.
    """
    if _ANY.search(text) is not None:
        if _TAG.search(text) is not None:
            text = _TAG.sub(_decode_tags, text)
        text = _STRIP.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def strip_invisible(text: str) -> str:
    """``text`` without tag, invisible and bidi characters (joiners kept between non-ASCII letters)."""
    if _ANY.search(text) is None:
        return text
    text = _JOINER_NEAR_ASCII.sub("", text)
    return _STRIP.sub(lambda m: m.group() if m.group() in "\u200c\u200d" else "", text)
