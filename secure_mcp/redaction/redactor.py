"""The Redactor: masks every secret in a text, a nested value or a stream of chunks."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import re2

from secure_mcp.errors import ConfigError

from .detectors import GENERIC_KINDS, REGISTRY
from .engine import CompiledRule, Hit, compile_one, shared_engine
from .environ import ENV_KIND, secret_env_values
from .markers import MARKER_PREFIX, marker
from .stream import StreamRedactor

_MARKER_BYTES = MARKER_PREFIX.encode()
MEMO_MAX_CHARS = 64
MEMO_ENTRIES = 4096
_KIND_NAME = re2.compile(r"[a-z][a-z0-9_]{0,47}")


@dataclass(frozen=True)
class RedactionResult:
    """A redacted text and how many secrets of each kind were masked (never the values)."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)


def _extra_rules(extra_patterns: Mapping[str, str]) -> list[CompiledRule]:
    rules = []
    for name, pattern in extra_patterns.items():
        if _KIND_NAME.fullmatch(name) is None or name in REGISTRY or name == ENV_KIND:
            raise ConfigError(
                f"redaction.extra_patterns: {name!r} must be a new snake_case name "
                "(lower-case letters, digits, '_'; not a built-in kind)"
            )
        try:
            compiled = compile_one(pattern)
        except Exception as exc:  # re2 raises its own error type; any failure is a bad pattern
            raise ConfigError(f"redaction.extra_patterns.{name}: not a valid RE2 pattern ({exc})") from None
        if compiled.search("") is not None:
            raise ConfigError(f"redaction.extra_patterns.{name}: the pattern matches the empty string")
        rules.append(CompiledRule(name, pattern))
    return rules


class Redactor:
    """Masks secrets as ``[REDACTED:<kind>]``.

    Built once at startup; thread-safe and reusable (compiled, immutable rules plus a locked memo).

    Args:
        extra_patterns: ``[redaction] extra_patterns``: kind name -> RE2 pattern. A group named
            ``s`` (or ``s2``...) marks the part to mask, otherwise the whole match is masked.
        disabled_kinds: ``[redaction] disabled_kinds``: built-in kinds to switch off.
        allowlist: ``[redaction] allowlist``: literal values that are never masked.
        environ: the server's environment; the values of variables whose names look secret are
            masked as kind ``env`` (see :mod:`secure_mcp.redaction.environ`).

    Raises:
        ConfigError: an extra pattern is invalid or an unknown kind is disabled.
    """

    def __init__(
        self,
        *,
        extra_patterns: Mapping[str, str] = {},  # noqa: B006 - read only, the contract's signature
        disabled_kinds: Iterable[str] = (),
        allowlist: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        disabled = frozenset(disabled_kinds)
        unknown = disabled - set(REGISTRY) - {ENV_KIND}
        if unknown:
            raise ConfigError(
                f"redaction.disabled_kinds: unknown kind(s) {sorted(unknown)}; known: {sorted(REGISTRY)}"
            )
        self._allowlist = frozenset(v.encode() for v in allowlist)
        rules: list[CompiledRule] = []
        if ENV_KIND not in disabled:
            values = [v for v in secret_env_values(environ or {}) if v.encode() not in self._allowlist]
            if values:
                # Literal values first: at one position the server's own secret wins over a pattern.
                rules.append(CompiledRule(ENV_KIND, "|".join(re2.escape(v) for v in values)))
        for detector in REGISTRY.values():
            if detector.name in disabled:
                continue
            rules.extend(
                CompiledRule(detector.name, r.pattern, r.is_secret, tuple(r.group_kinds.items()), r.extend_back)
                for r in detector.rules
            )
        rules.extend(_extra_rules(extra_patterns))
        self._engine = shared_engine(tuple(rules))
        self._memo: OrderedDict[str, RedactionResult] = OrderedDict()
        self._memo_lock = threading.Lock()

    def redact(self, text: str) -> RedactionResult:
        """Mask every secret in ``text``."""
        data = text.encode("utf-8", "surrogatepass")
        hits = list(self.hits(data))
        if not hits:
            return RedactionResult(text, {})
        counts: dict[str, int] = {}
        out = self.apply(data, hits, 0, len(data), counts)
        return RedactionResult(out, counts)

    def redact_value(self, value: object) -> tuple[object, dict[str, int]]:
        """Redact every string inside ``value``, dict keys included; other leaves are kept.

        Recurses into dicts, lists and tuples, the shapes JSON results and audit records take.
        When nothing needs masking the value itself is returned (not a copy).
        """
        strings: list[str] = []
        _collect_strings(value, strings)
        # One prefilter pass over all the strings, joined by newlines: every rule treats a newline
        # like the end of a string (``$``, ``\s`` and non-word boundaries), so a secret inside any
        # one string is a candidate in the joined text too. No candidate: nothing to mask anywhere,
        # and the value is returned as it is (most audit records and results take this path).
        joined = "\n".join(strings).encode("utf-8", "surrogatepass")
        if not self._engine.has_candidate(joined):
            return value, {}
        counts: dict[str, int] = {}
        return self._redact_value(value, counts), counts

    def _redact_short(self, text: str) -> RedactionResult:
        """``redact`` with a bounded memo for short strings.

        Audit records and results repeat the same keys and small values (event, tool and stage
        names) on every call; each RE2 scan has a fixed cost. The redactor is immutable once built,
        so a remembered answer is exactly the one a fresh scan would give.
        """
        if len(text) > MEMO_MAX_CHARS:
            return self.redact(text)
        with self._memo_lock:
            cached = self._memo.get(text)
            if cached is not None:
                self._memo.move_to_end(text)
                return cached
        result = self.redact(text)
        with self._memo_lock:
            self._memo[text] = result
            if len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)
        return result

    def _redact_value(self, value: object, counts: dict[str, int]) -> object:
        if isinstance(value, str):
            result = self._redact_short(value)
            for kind, n in result.counts.items():
                counts[kind] = counts.get(kind, 0) + n
            return result.text
        if isinstance(value, dict):
            return {self._redact_value(k, counts): self._redact_value(v, counts) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_value(v, counts) for v in value]
        if isinstance(value, tuple):
            return tuple(self._redact_value(v, counts) for v in value)
        return value

    def stream(self) -> StreamRedactor:
        """A redactor for one stream of chunks (one per output stream of one call)."""
        return StreamRedactor(self)

    # Shared with StreamRedactor.
    def hits(self, data: bytes) -> Iterable[Hit]:
        """The hits in ``data``, minus allowlisted values, with generic kinds made specific."""
        for hit in self._engine.hits(data):
            masks = []
            for start, end, kind in hit.masks:
                value = data[start:end]
                if value in self._allowlist or _MARKER_BYTES in value:
                    continue  # allowlisted, or already masked: redaction must be idempotent
                if kind in GENERIC_KINDS:
                    specific = self._engine.kind_of_value(value)
                    if specific is not None and specific not in GENERIC_KINDS:
                        kind = specific
                masks.append((start, end, kind))
            if masks:
                yield Hit(hit.start, hit.end, tuple(masks))

    @staticmethod
    def apply(data: bytes, hits: Iterable[Hit], start: int, end: int, counts: dict[str, int]) -> str:
        """``data[start:end]`` with the masks of ``hits`` applied (hits must lie inside it)."""
        pieces: list[bytes] = []
        position = start
        for hit in hits:
            for m_start, m_end, kind in hit.masks:
                pieces.append(data[position:m_start])
                pieces.append(marker(kind).encode())
                counts[kind] = counts.get(kind, 0) + 1
                position = m_end
        pieces.append(data[position:end])
        return b"".join(pieces).decode("utf-8", "surrogatepass")


def _collect_strings(value: object, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect_strings(key, into)
            _collect_strings(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_strings(item, into)

