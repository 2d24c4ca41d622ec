"""validate: the arguments against the tool's model, then the tool's own policy.

Pydantic's own error text echoes the rejected values (which may be secrets or attack payloads), so
errors are rebuilt here from field names and messages only.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

from secure_mcp.call import ToolCall, ValidatedCall
from secure_mcp.errors import Denied, Stage
from secure_mcp.stages.context import RunContext


def describe_errors(error: ValidationError) -> str:
    """Field and problem, never the value."""
    parts = []
    for err in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "extra_forbidden":
            parts.append(f"unexpected argument '{where}'")
        elif err["type"] == "missing":
            parts.append(f"missing argument '{where}'")
        else:
            parts.append(f"'{where}': {err['msg']}")
    return "; ".join(parts[:5])


class ValidateGuard:
    """Parses arguments into the tool's model and lets the tool plan (and refuse) its action."""

    name: ClassVar[Stage] = "validate"

    async def __call__(self, call: ToolCall, run: RunContext) -> ValidatedCall:
        """The call with its parsed arguments and the tool's plan: what confirm and execution take."""
        try:
            args = run.spec.args_model.model_validate(call.raw_args)
        except ValidationError as exc:
            raise Denied("validate", "invalid_arguments", describe_errors(exc)) from None
        plan = await run.spec.prepare(args, run.env)
        call.confirm_reasons.extend(plan.confirm_reasons)
        return ValidatedCall.of(call, args, plan)
