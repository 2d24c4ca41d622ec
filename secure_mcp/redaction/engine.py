"""One linear-time scan for every secret pattern, in RE2 stages that each stay on a small DFA.

RE2 has no backtracking, so every stage is linear in its input. But one alternation of all precise
rules compiles to a ~66k-instruction program whose DFA runs out of memory and falls back to the
NFA, and whose lazily built DFA states made the first scan of secret-dense text slow (100 KB
holding 667 random passwords: 434 ms to redact the first time). So:

1. a *prefilter*: the same alternation with every counted repetition relaxed (``{n,m}`` to ``+``,
   ``{0,m}`` to ``*``) and captures off. Each relaxed rule accepts a superset of its precise
   language, so every precise match starts inside a prefilter match; the small DFA runs at
   hundreds of MiB/s. It picks *windows*: from a prefilter match to the end of its line (at most
   4 KiB further).
2. an RE2 *set* of the same relaxed rules, run on each window (one byte of context either side,
   so ``\b`` sees what the precise search sees): which rules can match there at all.
3. each such rule's own precise regex, searched in the window. The leftmost match wins and, at the
   same start, the lower rule index: exactly what leftmost-first semantics made the alternation
   ``(rule0)|(rule1)|...`` pick, so the verdicts did not change (tests/redaction/
   test_engine_equivalence.py keeps the alternation as a reference); only their cost did: the
   same 100 KB now takes 151 ms the first time.

Every stage works on the UTF-8 bytes, which avoids the wrapper's character-offset bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import re2

from .detectors.base import BackExtension, SecretCheck

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


def _options(*, capture: bool = True, max_mem: int = 256 << 20) -> re2.Options:
    options = re2.Options()
    options.never_capture = not capture
    # A larger DFA cache keeps the scan on the DFA instead of falling back to the slower NFA.
    options.max_mem = max_mem
    options.log_errors = False
    return options


# DFA budgets: RE2 builds DFA states lazily and resets a cache that outgrows its budget, so these
# bound what hostile output can make the scans hold: 256 MiB (prefilter) + 64 MiB (set) + 16 MiB
# for each rule's own small program (40 built-in rules: 640 MiB), reached only by input crafted
# to visit that many distinct states. Ordinary output stays in the low MiB.
_SET_MAX_MEM = 64 << 20
_RULE_MAX_MEM = 16 << 20


def compile_one(pattern: str) -> re2._Regexp:
    """Compile a single RE2 pattern with the engine's options (raises ``re2.error``)."""
    return re2.compile(pattern, _options(max_mem=_RULE_MAX_MEM))


class Engine:
    """Finds every secret span in a text in one pass."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._rules = tuple(rules)
        self._regexes = tuple(compile_one(rule.pattern) for rule in self._rules)
        if not self._rules:
            return
        relaxed = [_relax(rule.pattern) for rule in self._rules]
        self._prefilter = re2.compile("|".join(f"(?:{r})" for r in relaxed), _options(capture=False))
        self._possible = re2.Set.SearchSet(_options(capture=False, max_mem=_SET_MAX_MEM))
        for pattern in relaxed:
            self._possible.Add(pattern)
        self._possible.Compile()
        self._secret_groups: list[tuple[tuple[int, str], ...]] = []
        for rule, regex in zip(self._rules, self._regexes, strict=True):
            overrides = dict(rule.group_kinds)
            groups = sorted((idx, name) for name, idx in regex.groupindex.items() if _SECRET_GROUP.fullmatch(name))
            self._secret_groups.append(tuple((idx, overrides.get(name, rule.kind)) for idx, name in groups))

    def has_candidate(self, data: bytes) -> bool:
        """False only when no rule can match anywhere in ``data`` (the prefilter is a superset)."""
        return bool(self._rules) and self._prefilter.search(data) is not None

    def hits(self, data: bytes) -> Iterator[Hit]:
        """Yield the hits in ``data`` (UTF-8) in order, after each rule's own plausibility check."""
        if not self._rules:
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
            if position >= window_end:
                continue
            found = self._window(data, position, window_end)
            while position < window_end:
                first = found.first(position)
                if first is None:
                    break
                rule_index, match = first
                m_start, m_end = match.span()
                hit = self._hit(rule_index, match, data, floor) if m_end > m_start else None
                if hit is not None:
                    yield hit
                    position = floor = m_end
                else:
                    # A rejected candidate (code, placeholder) may hide a real secret inside it, as
                    # in "token: ghp_..." read as a code identifier: search again one byte on.
                    position = m_start + 1
            position = max(position, window_end)

    def _window(self, data: bytes, position: int, window_end: int) -> _Window:
        # One byte of context either side: \b at the window's edges sees what the precise search sees.
        context = data[max(0, position - 1) : min(len(data), window_end + 1)]
        possible = sorted(self._possible.Match(context) or ())
        return _Window(data, window_end, [(i, self._regexes[i]) for i in possible])

    def _hit(self, rule_index: int, match: re2._Match, data: bytes, floor: int) -> Hit | None:
        start, end = match.span()
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

    def kind_of_value(self, value: bytes) -> str | None:
        """The kind of the first non-generic rule that matches all of ``value``, if any."""
        for hit in self.hits(value):
            if len(hit.masks) == 1 and hit.masks[0][0] == 0 and hit.masks[0][1] == len(value):
                return hit.masks[0][2]
            break
        return None


@lru_cache(maxsize=8)
def shared_engine(rules: tuple[CompiledRule, ...]) -> Engine:
    """One engine per rule set, shared by every redactor built from the same config.

    Compiling the 42 programs costs ~3 ms; a server builds its redactor once, but the approval
    console, the CLI and the tests build many from one config. An engine holds no per-scan state
    and RE2 matching is thread-safe, so sharing is safe.
    """
    return Engine(rules)


class _Window:
    """The rules that may match in one window, each with its next match, searched lazily.

    A rule's leftmost match from ``p`` that starts at ``s >= q`` is also its leftmost match from
    ``q`` (RE2 sees the whole text as context), so a found match is reused until the position
    passes its start, and a rule with no match from ``p`` is dropped for the rest of the window.
    """

    def __init__(self, data: bytes, end: int, rules: list[tuple[int, re2._Regexp]]) -> None:
        self._data = data
        self._end = end
        self._rules = rules
        self._next: dict[int, re2._Match] = {}

    def first(self, position: int) -> tuple[int, re2._Match] | None:
        """The leftmost match at or after ``position``; at the same start, the lowest rule index."""
        best: tuple[int, re2._Match] | None = None
        alive: list[tuple[int, re2._Regexp]] = []
        for index, regex in self._rules:
            match = self._next.get(index)
            if match is None or match.start() < position:
                match = regex.search(self._data, position, self._end)
                if match is None:
                    self._next.pop(index, None)
                    continue
                self._next[index] = match
            alive.append((index, regex))
            if best is None or match.start() < best[1].start():
                best = (index, match)
        self._rules = alive
        return best
