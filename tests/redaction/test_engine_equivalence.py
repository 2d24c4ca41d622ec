"""The rule-by-rule window search finds exactly what the single alternation of 0.1 found.

Until 0.2.0 each window was searched with one alternation ``(?P<_0>rule0)|(?P<_1>rule1)|...``;
now an RE2 set names the rules that can match and each runs on its own program. Leftmost-first
semantics make the two equal (the leftmost match wins; at one start, the lower rule). This test
keeps the alternation as a reference and compares every hit, masks and kinds included, on the
sample secrets, their near misses and generated mixtures of both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_mcp.redaction import Redactor
from secure_mcp.redaction.engine import WINDOW_TAIL, Engine, Hit, _options, _relax
from tests.properties import examples

from .samples import CASES

_NAMED = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


def _prefixed(pattern: str, rule: int) -> str:
    # Group names made unique inside the alternation: "s" of rule 3 becomes "_3_s".
    return _NAMED.sub(lambda m: f"(?P<_{rule}_{m.group(1)}>", pattern)


class Alternation:
    """The 0.1-0.2.0 engine's window search: one alternation of every precise rule."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        rules = engine._rules
        combined = "|".join(f"(?P<_{i}>{_prefixed(r.pattern, i)})" for i, r in enumerate(rules))
        self._regex = re2.compile(combined, _options())
        self._prefilter = re2.compile("|".join(f"(?:{_relax(r.pattern)})" for r in rules), _options(capture=False))
        index = self._regex.groupindex
        # rule i's own group number -> the alternation's group number (0 -> the rule's whole group)
        self._groups = [
            {0: index[f"_{i}"], **{own: index[f"_{i}_{name}"] for name, own in regex.groupindex.items()}}
            for i, regex in enumerate(engine._regexes)
        ]

    def hits(self, data: bytes) -> Iterator[Hit]:
        size, position, floor = len(data), 0, 0
        for candidate in self._prefilter.finditer(data):
            start, end = candidate.span()
            if end <= position:
                continue
            line_end = data.find(b"\n", end, end + WINDOW_TAIL)
            window_end = min(size if line_end < 0 else line_end + 1, end + WINDOW_TAIL)
            position = max(position, start)
            while position < window_end:
                match = self._regex.search(data, position, window_end)
                if match is None:
                    break
                m_start, m_end = match.span()
                rule = next(i for i, groups in enumerate(self._groups) if match.span(groups[0])[0] >= 0)
                seen = _AsRule(match, self._groups[rule])
                hit = self._engine._hit(rule, seen, data, floor) if m_end > m_start else None
                if hit is not None:
                    yield hit
                    position = floor = m_end
                else:
                    position = m_start + 1
            position = max(position, window_end)


class _AsRule:
    """A match of the alternation, read through one rule's own group numbers."""

    def __init__(self, match: re2._Match, groups: dict[int, int]) -> None:
        self._match = match
        self._groups = groups

    def span(self, group: int = 0) -> tuple[int, int]:
        start, end = self._match.span(self._groups[group])
        return int(start), int(end)


ENGINE = Redactor()._engine
REFERENCE = Alternation(ENGINE)


def _same(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert list(ENGINE.hits(data)) == list(REFERENCE.hits(data)), text


def test_every_sample_and_near_miss_gives_the_same_hits() -> None:
    for text, _, near_miss in CASES.values():
        _same(text)
        _same(near_miss)
    _same("\n".join(t for t, _, _ in CASES.values()))


PIECES = [t for t, _, _ in CASES.values()] + [m for _, _, m in CASES.values()] + [s for _, s, _ in CASES.values()]


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(PIECES),
            st.sampled_from(["password=", "TOKEN: ", "api_key = '", "\n", " ", "=", '"', "Bearer "]),
            st.text(alphabet="aZ09_-=:./+ \n'\"", max_size=30),
        ),
        max_size=12,
    )
)
def test_generated_mixtures_give_the_same_hits(parts: list[str]) -> None:
    """Secrets glued to each other, to near misses, keys and noise: same spans, masks and kinds."""
    _same("".join(parts))
