"""Effects: what a read-write run changed in the workspace, judged before any of it is applied.

``changeset`` reads the layer, ``view`` answers questions about the state after the change,
``judge`` decides, ``question`` shows it to a person, ``apply`` writes it with write_file's care,
``flow`` ties them to a tool call. See docs/effects.md.
"""

from __future__ import annotations

from secure_mcp.effects.flow import run_with_effects

__all__ = ["run_with_effects"]
