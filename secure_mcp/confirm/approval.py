"""The answer schema shown to the person, and the outcome the confirm stage acts on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

Outcome = Literal["accept", "decline", "cancel", "timeout", "malformed", "client_error"]


class Approval(BaseModel):
    """A single required yes/no, plus an optional reason that is logged (never acted on)."""

    model_config = ConfigDict(extra="forbid")

    approve: StrictBool = Field(description="Allow exactly the action shown above?")
    reason: str = Field(default="", max_length=500, description="Optional: why (recorded in the audit log)")


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: only ``accept`` with ``approved`` true lets the call go on."""

    outcome: Outcome
    approved: bool = False
    reason: str | None = None
    channel: str = "elicitation"  # where the answer came from: elicitation, url, console, cli, not asked
    approver: str | None = None  # who answered, when known (a console or CLI approver's name)
