"""What a tool module provides (``ToolSpec``) and what the pipeline lends it (``ToolEnv``).

Tool modules in ``tools/`` hold only their argument and result models, their own validation policy
(``prepare``) and their work (``execute``). Guards live in ``secure_mcp/stages``; a tool never
decides about auth, limits, confirmation, redaction or audit.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mcp.types import ToolAnnotations
from pydantic import BaseModel

from secure_mcp.call import Plan
from secure_mcp.config import Config
from secure_mcp.models import ToolResult

if TYPE_CHECKING:
    from secure_mcp.fetch.resolver import Resolver
    from secure_mcp.sandbox import Sandbox

ProgressReporter = Callable[[float, int], Awaitable[None]]
"""Called by long work with (elapsed seconds, output bytes so far); at most once a second."""


class TextRedactor(Protocol):
    """The part of the redaction library that prompts and tools need."""

    def redact_text(self, text: str) -> str: ...


@dataclass(frozen=True)
class ToolEnv:
    """Shared, long-lived services a tool may use; built once at startup.

    Args:
        fetch_resolver: where fetch_url turns names into addresses; ``None`` is the system
            resolver. Tests inject one that maps their names to a loopback fixture server.
        fetch_ssl_context: the trust fetch_url uses for https; ``None`` is the system's. Tests
            inject one trusting their own CA.
    """

    config: Config
    workspace: Path
    sandbox: Sandbox | None
    redact_text: Callable[[str], str]
    fetch_resolver: Resolver | None = None
    fetch_ssl_context: ssl.SSLContext | None = None


# ``Any`` for the arguments on purpose: each tool's prepare and execute take its own ``args_model``
# (callable parameters are contravariant, so ``BaseModel`` would reject them); the validate stage
# guarantees the pairing by parsing the arguments with that model before calling either.
Prepare = Callable[[Any, ToolEnv], Awaitable[Plan]]
Execute = Callable[[Any, Plan, ToolEnv, ProgressReporter], Awaitable[ToolResult]]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its MCP face and its two steps.

    Args:
        prepare: the tool's own policy (part of validate): checks the parsed arguments and returns a
            ``Plan`` naming what confirmation must show; raises ``Denied("validate", ...)``.
        execute: the tool's work; ``None`` while the tool is not available yet (refused by sandbox).
        output_fields: result fields holding untrusted text the output scan looks at.
        sandboxed: the work runs in a container, so the per-principal sandbox cap applies.
    """

    name: str
    title: str
    description: str
    annotations: ToolAnnotations
    args_model: type[BaseModel]
    result_model: type[ToolResult]
    prepare: Prepare
    execute: Execute | None
    output_fields: tuple[str, ...] = ()
    sandboxed: bool = False
