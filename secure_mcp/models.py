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


class ToolResult(BaseModel):
    """Base of every tool's result: the two fields the pipeline itself fills in.

    ``warnings`` gets the findings of the input and output scans prepended to the tool's own;
    ``redactions`` is overwritten with what the redact stage masked. Declared here once, so the
    pipeline sets them on every result instead of checking whether a result has such a field.
    """

    warnings: list[str] = Field(default_factory=list)
    redactions: list[Redaction] = Field(default_factory=list)


class Change(BaseModel):
    """One path a call changed in the workspace (SPEC "Added for 0.2")."""

    path: str
    kind: str = Field(description="created, modified, deleted, mode, symlink, dir or special")
    bytes: int


class ProcessResult(ToolResult):
    """The result of code or a command run in the sandbox."""

    exit_code: int | None = Field(description="exit status; null when the process was killed")
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    changes: list[Change] = Field(default_factory=list, description="what the call changed in the workspace")
    conflicts: list[str] = Field(
        default_factory=list, description="changes not applied because the host changed the path meanwhile"
    )
    effects: dict[str, Any] | None = Field(default=None, description="dry_run only: the verdict on the change set")
