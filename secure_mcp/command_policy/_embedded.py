"""Command substitutions hidden in text bashlex leaves unparsed.

bashlex keeps here-document bodies and ``${...}`` parameter expansions as plain text, yet the shell
runs every ``$(...)`` and backtick inside them. We find them here and hand their text back to the
parser. The scan over-approximates (it ignores quoting inside the text): a false find only makes the
verdict stricter, a miss would let a program through.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_PARSE_ATTEMPTS = 256


class UnparseableText(Exception):
    """The text holds a substitution whose end cannot be found, or arithmetic we cannot parse."""


def embedded_commands(text: str, parses: Callable[[str], bool]) -> list[str]:
    """Return the source of every ``$(...)`` and backtick substitution in ``text``.

    Args:
        text: a here-document body or parameter-expansion text.
        parses: tells whether a candidate string is a complete command; the shortest candidate
            ending at a ``)`` that parses is the substitution, as the shell's own reader decides.

    Raises:
        UnparseableText: an unterminated substitution, or ``$((`` arithmetic.
    """
    found: list[str] = []
    attempts = 0
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith("$((", i):
            raise UnparseableText("arithmetic expansion")
        if text.startswith("$(", i):
            start = i + 2
            end = text.find(")", start)
            while True:
                if end < 0:
                    raise UnparseableText("unterminated $(...)")
                attempts += 1
                if attempts > MAX_PARSE_ATTEMPTS:
                    raise UnparseableText("substitution too complex")
                candidate = text[start:end]
                if not candidate.strip() or parses(candidate):
                    break
                end = text.find(")", end + 1)
            if candidate.strip():
                found.append(candidate)
            i = end + 1
            continue
        if text[i] == "`":
            end = i + 1
            while end < len(text) and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise UnparseableText("unterminated backtick")
            body = text[i + 1 : end].replace("\\`", "`").replace("\\$", "$").replace("\\\\", "\\")
            if body.strip():
                found.append(body)
            i = end + 1
            continue
        i += 1
    return found
