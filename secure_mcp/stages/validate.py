"""validate: the arguments against the tool's model, then the tool's own policy.

Pydantic's own error text echoes the rejected values (which may be secrets or attack payloads), so
errors are rebuilt here from field names and messages only. Argument *names* the caller chose are
caller data too (`{"password=Qm7...": 1}` is a secret sent as a name): only names the tool declares
are ever shown; an unknown one is withheld and the closest declared name is suggested instead.
"""

from __future__ import annotations

import difflib
from typing import ClassVar

from pydantic import BaseModel, ValidationError

from secure_mcp.call import ToolCall, ValidatedCall
from secure_mcp.errors import Denied, Stage
from secure_mcp.stages.context import RunContext

MAX_PARTS = 5
_SUGGEST_MAX_LEN = 64  # difflib is quadratic; a longer name is no typo of a declared one


def _where(loc: tuple[int | str, ...], declared: frozenset[str]) -> str:
    # Declared field names and list indexes are ours; any other part is a key the caller chose.
    parts = [str(p) if isinstance(p, int) or p in declared else "?" for p in loc]
    return ".".join(parts) or "arguments"


def _unexpected(name: object, declared: frozenset[str]) -> str:
    guess: list[str] = []
    if isinstance(name, str) and len(name) <= _SUGGEST_MAX_LEN:
        guess = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
    hint = f"; did you mean '{guess[0]}'?" if guess else ""
    return f"unexpected argument (its name is not repeated{hint})"


def describe_errors(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Field and problem, never the value nor a name the caller made up.

    Args:
        error: pydantic's validation error for the tool's argument model.
        model: that model; its declared field names are the only names shown.
    """
    order = tuple(model.model_fields) if model is not None else ()
    declared = frozenset(order)
    parts: list[str] = []
    unexpected = False
    for err in error.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            unexpected = True
            if len(loc) == 1:
                parts.append(_unexpected(loc[0], declared))
            else:
                parts.append(f"unexpected key in '{_where(loc[:-1], declared)}'")
        elif err["type"] == "missing":
            parts.append(f"missing argument '{_where(loc, declared)}'")
        else:
            parts.append(f"'{_where(loc, declared)}': {err['msg']}")
    text = "; ".join(parts[:MAX_PARTS])
    if unexpected and order:
        text += f"; accepted: {', '.join(order)}"
    return text


class ValidateGuard:
    """Parses arguments into the tool's model and lets the tool plan (and refuse) its action."""

    name: ClassVar[Stage] = "validate"

    async def __call__(self, call: ToolCall, run: RunContext) -> ValidatedCall:
        """The call with its parsed arguments and the tool's plan: what confirm and execution take."""
        model = run.spec.args_model
        try:
            args = model.model_validate(call.raw_args)
        except ValidationError as exc:
            raise Denied("validate", "invalid_arguments", describe_errors(exc, model)) from None
        plan = await run.spec.prepare(args, run.env)
        call.confirm_reasons.extend(plan.confirm_reasons)
        return ValidatedCall.of(call, args, plan)
