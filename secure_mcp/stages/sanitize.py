"""sanitize: prompt-injection signs in what goes in (arguments) and what comes out (results).

Findings are signs, not proof; the sandbox is the boundary. Per tool and direction the config
decides whether a finding only warns, asks a human (inputs only) or refuses. Outputs are also
cleaned of ANSI escapes and invisible or bidirectional characters, which could hide text from the
person reading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from secure_mcp.call import ToolCall
from secure_mcp.config import SanitizeConfig
from secure_mcp.errors import Denied, Stage
from secure_mcp.injection import Finding, clean_output, scan
from secure_mcp.stages.context import RunContext


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path or "(value)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def describe(findings: list[Finding], where: str) -> str:
    """One line naming each finding's kind and a safe excerpt."""
    kinds = ", ".join(f"{f.kind} ({f.detail})" for f in findings[:5])
    more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
    return f"possible prompt injection in {where}: {kinds}{more}"


class SanitizeGuard:
    """Scans every string argument after Unicode normalisation."""

    name: ClassVar[Stage] = "sanitize"

    def __init__(self, config: SanitizeConfig, allowed_domains: tuple[str, ...] = ()) -> None:
        self._config = config
        self._allowed_domains = allowed_domains

    async def __call__(self, call: ToolCall, run: RunContext) -> None:
        action = self._config.action(call.tool, "input")
        for where, text in _strings(call.raw_args):
            findings = scan(text, allowed_domains=self._allowed_domains)
            if not findings:
                continue
            message = describe(findings, f"argument '{where}'")
            if action == "block":
                raise Denied("sanitize", "injection_in_input", message)
            if action == "confirm":
                call.confirm_reasons.append(message)
            call.warnings.append(message)

    def check_output(self, tool: str, fields: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """Clean untrusted output fields and report findings; refuses when configured to block."""
        action = self._config.action(tool, "output")
        cleaned: dict[str, str] = {}
        warnings: list[str] = []
        for name, text in fields.items():
            findings = scan(text, allowed_domains=self._allowed_domains)
            cleaned[name] = clean_output(text)
            if not findings:
                continue
            message = describe(findings, f"output '{name}'")
            if action == "block":
                raise Denied("sanitize", "injection_in_output", message)
            warnings.append(message)
        return cleaned, warnings
