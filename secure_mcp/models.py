"""Result pieces shared by several tools (SPEC: ``warnings`` and ``redactions``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Redaction(BaseModel):
    """How many values of one kind were masked; never the values."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    count: int = Field(ge=1)


class ArgsModel(BaseModel):
    """Base of every tool's arguments: unknown arguments are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Change(BaseModel):
    """One path a call changed in the workspace (SPEC "Added for 0.2")."""

    path: str
    kind: str = Field(description="created, modified, deleted, mode, symlink, dir or special")
    bytes: int


class ProcessResult(BaseModel):
    """The result of code or a command run in the sandbox."""

    exit_code: int | None = Field(description="exit status; null when the process was killed")
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    warnings: list[str] = Field(default_factory=list)
    redactions: list[Redaction] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list, description="what the call changed in the workspace")
    conflicts: list[str] = Field(
        default_factory=list, description="changes not applied because the host changed the path meanwhile"
    )
    effects: dict[str, Any] | None = Field(default=None, description="dry_run only: the verdict on the change set")
