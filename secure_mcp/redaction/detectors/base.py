"""The shape every secret detector takes.

A detector is data, not code: a stable ``name`` (the kind shown in ``[REDACTED:<kind>]`` and in
``redactions`` counts, so renaming one is a breaking change) and RE2 patterns. The engine compiles
the patterns of all detectors into one alternation, so detectors never scan text on their own and
the total cost stays one linear pass however many detectors exist.

Inside a pattern, named groups ``s``, ``s2``, ``s3`` ... mark the part to mask (the value of an
assignment, the password of a URL); a pattern without them masks its whole match. Patterns may
consume one terminator character after the secret, because RE2 has no look-ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

SecretCheck = Callable[[str], bool]
#: ``(data, start, floor) -> new start``: moves a match's start back over what belongs to it.
BackExtension = Callable[[bytes, int, int], int]

# Characters that end a token made of [A-Za-z0-9_-]. RE2 has no look-ahead, so a pattern consumes
# one of them (or the end of text) to prove the token is not the prefix of a longer word.
END_DASH = r"(?:[^A-Za-z0-9_-]|$)"


@dataclass(frozen=True)
class Rule:
    """One pattern of a detector.

    Args:
        pattern: RE2 syntax; groups named ``s``/``s2``... are the spans to mask.
        is_secret: optional check on each masked span; returning False keeps the text. Used only by
            generic detectors whose pattern alone cannot tell a value from code.
        group_kinds: kind overrides per secret group, for patterns that capture two different
            secrets at once (an AWS key id followed by its secret key in a CSV export).
        extend_back: for a pattern anchored on a distinctive literal in the middle of its secret
            (a JWT's "alg", a key's END line): moves the start of the match back, in plain linear
            code, over the part before that literal. A pattern that began with an open run instead
            would keep RE2's leftmost search alive across every long run of such characters and
            make the scan quadratic when candidates sit inside them.
    """

    pattern: str
    is_secret: SecretCheck | None = None
    group_kinds: Mapping[str, str] = field(default_factory=dict)
    extend_back: BackExtension | None = None


@dataclass(frozen=True)
class Detector:
    """A family of patterns that share one stable kind name."""

    name: str
    rules: tuple[Rule, ...]
    description: str = ""
