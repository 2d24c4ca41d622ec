"""How many examples a property test draws: all of them in `make test`, a fifth in `make unit`.

`make unit` is the layer run after every change and has to answer within seconds (CONTRIBUTING
gives the figure); it sets ``SECURE_MCP_QUICK_PROPERTIES=1``. Every property still runs there, on
fewer examples; the full count runs in `make test`, which is what CI runs. Hypothesis keeps a
failing example in its database and replays it first, whichever layer found it.
"""

from __future__ import annotations

import os

QUICK = os.environ.get("SECURE_MCP_QUICK_PROPERTIES") == "1"


def examples(full: int) -> int:
    """``full`` examples, or in the quick layer a fifth of them (at least 20)."""
    return max(20, full // 5) if QUICK else full
