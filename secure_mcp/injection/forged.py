"""Forged untrusted-content markers: text that pretends to end (or open) the wrapper around fetched data.

``fetch_url`` returns its content between an opening and a closing marker that share a fresh nonce
(see :mod:`secure_mcp.fetch.untrusted`). A page cannot guess the nonce, so it cannot really close
the block; but a closing marker with a wrong nonce, or none, may still fool a model that reads
markers loosely into taking what follows as the server speaking. The server emits markers only
around fetched content, so any other marker in a result or an argument is forged.

The wrapper's exact shape is defined here, next to the one check that must recognise it: the genuine
header and footer of a wrapped text are peeled off by parsing (same nonce on both), and the rest is
searched, after the usual normalisation (NFKC, case-folded, invisibles removed), for anything that
reads as a marker tag.
"""

from __future__ import annotations

import re

import re2

from .finding import Finding, quote
from .unicode import normalise

MARKER_TAG = "untrusted-content"
_NONCE = r"[0-9a-f]{32}"
_HEADER = re.compile(rf"<{MARKER_TAG} nonce=({_NONCE}) source=[^\n]*>")
# On the normalised copy: "<", optional "/", the tag name with any separator between its two words.
_TAG = re2.compile(r"<[ \t]*/?[ \t]*untrusted[ \t_-]*content(?:[^a-z0-9_-]|$)")


def opening_marker(nonce: str, source: str) -> str:
    """The first line of a wrapped text; ``source`` must already be one line."""
    return f"<{MARKER_TAG} nonce={nonce} source={source}>"


def closing_marker(nonce: str) -> str:
    """The last line of a wrapped text."""
    return f"</{MARKER_TAG} nonce={nonce}>"


def inside_wrapper(text: str) -> str | None:
    """The text between a genuine opening and closing marker, or None when ``text`` is not wrapped.

    Genuine means: the first line is an opening marker, the last line is the closing marker with the
    same nonce. Parsed by lines, not searched, so a marker in the content cannot stand in for either.
    """
    head, newline, rest = text.partition("\n")
    header = _HEADER.fullmatch(head) if newline else None
    if header is None:
        return None
    body, newline, tail = rest.rpartition("\n")
    if not newline or tail != closing_marker(header.group(1)):
        return None
    return body


def forged_marker_findings(text: str, normalised: str) -> list[Finding]:
    """A ``forged_marker`` finding when ``text`` holds a marker the server did not put there.

    Args:
        text: the raw text (a wrapped fetch result, command output, an argument).
        normalised: ``normalise(text)``, which the scan has already computed.
    """
    if _TAG.search(normalised) is None:
        return []  # the common case: no marker at all, genuine or not
    body = inside_wrapper(text)
    if body is not None:
        normalised = normalise(body)
    match = _TAG.search(normalised)
    if match is None:
        return []
    start = match.start()
    return [Finding("forged_marker", quote(f"untrusted-content marker in the data: {normalised[start:start + 50]}"))]
