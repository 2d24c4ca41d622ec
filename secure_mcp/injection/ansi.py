"""ANSI escape sequences and other terminal control characters.

In tool output they can hide text from a person reading a terminal (cursor moves, erase line,
invisible colours) or plant a clickable link (OSC 8) whose target differs from what is shown.
"""

from __future__ import annotations

import re

import re2

from .finding import Finding

# CSI (ESC [ or the 8-bit 0x9B) params, intermediates, final; OSC/DCS/APC/PM/SOS strings to their
# terminator; then any other two-byte ESC sequence. RE2 keeps it linear on unterminated input.
_SEQUENCE = re2.compile(
    r"(?:\x1b\[|\x{9b})[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x{90}\x{9d}\x{98}\x{9e}\x{9f}])[^\x07\x1b\x{9c}]*(?:\x07|\x1b\\|\x{9c})?"
    r"|\x1b[ -~]?"
)
# C0/C1 controls other than tab, newline and carriage return (backspace overprinting, bell...).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NAMES = {"[": "CSI", "]": "OSC", "P": "DCS", "X": "SOS", "^": "PM", "_": "APC"}


def has_control(text: str) -> bool:
    """Cheap check before the regexes: is there any C0/C1 control besides tab and newlines?"""
    return not text.isprintable() and _CONTROL.search(text) is not None


def ansi_findings(text: str) -> list[Finding]:
    """At most two findings: one summarising escape sequences, one other control characters."""
    if not has_control(text):
        return []
    findings: list[Finding] = []
    sequences = [m.group() for m in _SEQUENCE.finditer(text)]
    if sequences:
        kinds = sorted({_NAMES.get(s[1:2], "ESC") if s[0] == "\x1b" else "C1" for s in sequences})
        osc8 = any(s.startswith("\x1b]8;") for s in sequences)
        note = " incl. OSC 8 hyperlink" if osc8 else ""
        findings.append(Finding("ansi_escape", f"{len(sequences)} escape sequences ({', '.join(kinds)}){note}"))
    rest = _CONTROL.findall(_SEQUENCE.sub("", text))
    if rest:
        codes = ", ".join(sorted({f"0x{ord(c):02X}" for c in rest})[:4])
        findings.append(Finding("control_character", f"{len(rest)} control characters ({codes})"))
    return findings


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences and without other control characters."""
    if not has_control(text):
        return text
    return _CONTROL.sub("", _SEQUENCE.sub("", text))
