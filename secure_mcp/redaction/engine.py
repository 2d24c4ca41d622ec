"""One linear-time scan for every secret pattern, in two RE2 stages.

RE2 has no backtracking, so every stage is linear in its input. But one alternation of all precise
rules compiles to a ~66k-instruction program whose DFA runs out of memory and falls back to the
NFA (a few MiB/s). So:

1. a *prefilter*: the same alternation with every counted repetition relaxed (``{n,m}`` to ``+``,
   ``{0,m}`` to ``*``) and captures off. Each relaxed rule accepts a superset of its precise
   language, so every precise match starts inside a prefilter match; the small DFA runs at
   hundreds of MiB/s.
2. the *precise* alternation ``(?P<_0>rule0)|(?P<_1>rule1)|...``, run only on short windows that
   start at a prefilter match and reach to the end of its line (at most 4 KiB further).

Both stages work on the UTF-8 bytes, which avoids the wrapper's character-offset bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import re2

from .detectors.base import BackExtension, SecretCheck

# Named groups in either RE2 spelling; renamed per rule so two rules may reuse a name.
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_SECRET_GROUP = re.compile(r"s[0-9]*")
_COUNTED_FROM_ZERO = re.compile(r"\{0,[0-9]*\}")
_COUNTED = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
WINDOW_TAIL = 4096


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready for the engine, with the kind it reports."""

    kind: str
    pattern: str
    is_secret: SecretCheck | None = None
    group_kinds: tuple[tuple[str, str], ...] = ()
    extend_back: BackExtension | None = None


@dataclass(frozen=True)
class Hit:
    """One match: the span that must stay together, and the byte spans to mask with their kinds."""

    start: int
    end: int
    masks: tuple[tuple[int, int, str], ...]


def _relax(pattern: str) -> str:
    # Turns every counted repetition into an open one: a superset of the language, a far smaller DFA.
    return _COUNTED.sub("+", _COUNTED_FROM_ZERO.sub("*", pattern))


def _options(*, capture: bool = True) -> re2.Options:
    options = re2.Options()
    options.never_capture = not capture
    # A larger DFA cache keeps the scan on the DFA instead of falling back to the slower NFA.
    options.max_mem = 256 << 20
    options.log_errors = False
    return options


def compile_one(pattern: str) -> re2._Regexp:
    """Compile a single RE2 pattern with the engine's options (raises ``re2.error``)."""
    return re2.compile(pattern, _options())


def _rename_groups(pattern: str, index: int) -> str:
    # Prefix every named group with the rule index so names stay unique inside the alternation.
    return _NAMED_GROUP.sub(lambda m: f"(?P<_{index}_{m.group(1)}>", pattern)


class Engine:
    """Finds every secret span in a text in one pass."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._rules = tuple(rules)
        if not self._rules:
            self._regex: re2._Regexp | None = None
            return
        combined = "|".join(f"(?P<_{i}>{_rename_groups(r.pattern, i)})" for i, r in enumerate(self._rules))
        self._regex = compile_one(combined)
        relaxed = "|".join(f"(?:{_relax(r.pattern)})" for r in self._rules)
        self._prefilter = re2.compile(relaxed, _options(capture=False))
        index = self._regex.groupindex
        self._tops = tuple(index[f"_{i}"] for i in range(len(self._rules)))
        self._secret_groups: list[tuple[tuple[int, str], ...]] = []
        for i, rule in enumerate(self._rules):
            overrides = dict(rule.group_kinds)
            prefix = f"_{i}_"
            groups = sorted(
                (idx, name.removeprefix(prefix))
                for name, idx in index.items()
                if name.startswith(prefix) and _SECRET_GROUP.fullmatch(name.removeprefix(prefix))
            )
            self._secret_groups.append(tuple((idx, overrides.get(name, rule.kind)) for idx, name in groups))

    def has_candidate(self, data: bytes) -> bool:
        """False only when no rule can match anywhere in ``data`` (the prefilter is a superset)."""
        return self._regex is not None and self._prefilter.search(data) is not None

    def hits(self, data: bytes) -> Iterator[Hit]:
        """Yield the hits in ``data`` (UTF-8) in order, after each rule's own plausibility check."""
        if self._regex is None:
            return
        size = len(data)
        position = 0  # everything before it has been decided
        floor = 0  # the end of the last hit: no extension reaches before it
        for candidate in self._prefilter.finditer(data):
            start, end = candidate.span()
            if end <= position:
                continue
            line_end = data.find(b"\n", end, end + WINDOW_TAIL)  # bounded: long lines stay linear
            window_end = min(size if line_end < 0 else line_end + 1, end + WINDOW_TAIL)
            position = max(position, start)
            while position < window_end:
                match = self._regex.search(data, position, window_end)
                if match is None:
                    break
                m_start, m_end = match.span()
                hit = self._hit(match, data, floor) if m_end > m_start else None
                if hit is not None:
                    yield hit
                    position = floor = m_end
                else:
                    # A rejected candidate (code, placeholder) may hide a real secret inside it, as
                    # in "token: ghp_..." read as a code identifier: search again one byte on.
                    position = m_start + 1
            position = max(position, window_end)

    def _hit(self, match: re2._Match, data: bytes, floor: int) -> Hit | None:
        start, end = match.span()
        rule_index = self._which(match)
        rule = self._rules[rule_index]
        masks: list[tuple[int, int, str]] = []
        for group, kind in self._secret_groups[rule_index]:
            s_start, s_end = match.span(group)
            if s_start >= 0 and s_end > s_start:
                masks.append((s_start, s_end, kind))
        if not masks:
            masks.append((start, end, rule.kind))
        if rule.extend_back is not None:
            first_start, first_end, first_kind = masks[0]
            masks[0] = (rule.extend_back(data, first_start, floor), first_end, first_kind)
            start = min(start, masks[0][0])
        if rule.is_secret is not None:
            masks = [m for m in masks if rule.is_secret(data[m[0] : m[1]].decode("utf-8", "replace"))]
        return Hit(start, end, tuple(masks)) if masks else None

    def _which(self, match: re2._Match) -> int:
        for i, group in enumerate(self._tops):
            if match.span(group)[0] >= 0:
                return i
        raise RuntimeError("a match without a matching rule")  # pragma: no cover - RE2 invariant

    def kind_of_value(self, value: bytes) -> str | None:
        """The kind of the first non-generic rule that matches all of ``value``, if any."""
        for hit in self.hits(value):
            if len(hit.masks) == 1 and hit.masks[0][0] == 0 and hit.masks[0][1] == len(value):
                return hit.masks[0][2]
            break
        return None
