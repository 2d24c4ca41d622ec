"""The command policy for ``run_command``: decide on what would actually run, not on the string.

``judge_command`` parses the command with tree-sitter-bash (the grammar of the bash that runs it),
finds every program it would start (through pipelines, lists, groups, substitutions,
here-documents, functions and wrappers), judges each against the allow/confirm/deny lists, and
reports every program the command may execve (``CommandDecision.executables``), which the sandbox
enforces. Anything whose program cannot be known before it runs is ``unknown``. See
docs/command_policy.md.
"""

from __future__ import annotations

from secure_mcp.command_policy.decide import MAX_COMMAND_CHARS, judge_command
from secure_mcp.command_policy.model import CommandDecision, CommandPolicy, Decision, ProgramVerdict, Verdict

__all__ = [
    "MAX_COMMAND_CHARS",
    "CommandDecision",
    "CommandPolicy",
    "Decision",
    "ProgramVerdict",
    "Verdict",
    "judge_command",
]
