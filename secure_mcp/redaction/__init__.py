"""Secret redaction: masks credentials as ``[REDACTED:<kind>]`` in one linear-time scan.

Used by the redact stage on every output, and by the confirm and audit stages on what they show or
store. See ``docs/redaction.md`` for the kinds, the config keys and the measured figures.
"""

from __future__ import annotations

from .detectors import REGISTRY
from .environ import ENV_KIND, is_secret_env_name
from .markers import MARKER_PREFIX, contains_marker, marker
from .redactor import RedactionResult, Redactor
from .stream import StreamRedactor

#: Every built-in kind name, stable (config and audit queries use them).
KINDS: frozenset[str] = frozenset({*REGISTRY, ENV_KIND})

__all__ = [
    "ENV_KIND",
    "KINDS",
    "MARKER_PREFIX",
    "RedactionResult",
    "Redactor",
    "StreamRedactor",
    "contains_marker",
    "is_secret_env_name",
    "marker",
]
