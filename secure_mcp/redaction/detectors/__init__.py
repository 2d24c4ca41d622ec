"""The registry of secret detectors: an explicit, ordered dict literal.

Order matters: the engine's single alternation is leftmost-first, so when two detectors match at
the same position the earlier one names the kind. Vendor detectors come before the generic ones so
``GITHUB_TOKEN=ghp_...`` is reported as ``github_token``, not as an assignment.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import cloud, generic, vendors
from .base import Detector, Rule

REGISTRY: Mapping[str, Detector] = {d.name: d for d in (*cloud.DETECTORS, *vendors.DETECTORS, *generic.DETECTORS)}

#: Detectors that recognise a value by its surroundings only; a hit of theirs whose value is also a
#: vendor token is reported under the vendor's kind.
GENERIC_KINDS = frozenset({"password_assignment", "authorization_header", "url_credentials"})

__all__ = ["GENERIC_KINDS", "REGISTRY", "Detector", "Rule"]
