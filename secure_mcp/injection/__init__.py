"""Prompt-injection detection for the sanitize stage, and output cleaning.

A layer, not the boundary: it flags known phrasing and hiding tricks so policy can warn, confirm or
block; the sandbox and the per-tool policies are what contain an agent that was fooled anyway.
"""

from __future__ import annotations

from .clean import clean_output
from .finding import Finding, quote
from .scanner import scan
from .unicode import normalise

#: Every kind ``scan`` can report.
KINDS: frozenset[str] = frozenset(
    {
        "instruction_override", "prompt_leak", "concealment", "exfiltration_instruction", "role_marker",
        "special_token", "invisible_unicode", "bidi_control", "ansi_escape", "control_character",
        "exfiltration_link", "forged_marker",
    }
)

__all__ = ["KINDS", "Finding", "clean_output", "normalise", "quote", "scan"]
