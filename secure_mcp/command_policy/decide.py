"""``judge_command``: the one entry point the validate stage calls for ``run_command``.

It bounds the input, runs the parser and the judge, and turns every failure into a refusal: an
unparseable command is ``Denied("validate", "unparseable", ...)`` and any unexpected error is
``Denied("validate", "policy_error", ...)``. Nothing here ever answers ``allow`` by accident.
"""

from __future__ import annotations

from secure_mcp.command_policy._judge import Judge
from secure_mcp.command_policy.model import CommandDecision, CommandPolicy, decide
from secure_mcp.command_policy.parse import Unparseable
from secure_mcp.errors import Denied

MAX_COMMAND_CHARS = 16 * 1024
_ALLOWED_CONTROLS = frozenset("\t\n")


def _check_input(command: str, max_chars: int) -> None:
    """Refuse input no shell parse should be attempted on: empty, oversized or with control bytes."""
    if len(command) > max_chars:
        raise Denied("validate", "unparseable", f"command is longer than {max_chars} characters")
    if not command.strip():
        raise Denied("validate", "unparseable", "command is empty")
    for index, char in enumerate(command):
        if (ord(char) < 0x20 and char not in _ALLOWED_CONTROLS) or ord(char) == 0x7F:
            raise Denied(
                "validate", "unparseable", f"command contains control character U+{ord(char):04X} at position {index}"
            )


def judge_command(command: str, policy: CommandPolicy, *, max_chars: int = MAX_COMMAND_CHARS) -> CommandDecision:
    """Find every program ``command`` would start and judge it against ``policy``.

    Args:
        command: the shell command as the agent sent it.
        policy: the program lists of ``[tools.run_command]``.
        max_chars: longest command accepted; longer ones are refused before parsing.

    Returns:
        The strictest decision over all programs found, with one verdict per program.

    Raises:
        Denied: ``unparseable`` when the command cannot be parsed (also empty, control characters,
            too long, or a construct the parser does not support); ``policy_error`` when the policy
            itself failed. Both are refusals by the ``validate`` stage.
    """
    _check_input(command, max_chars)
    try:
        found = Judge(policy).command(command)
    except Unparseable as exc:
        raise Denied(
            "validate", "unparseable", f"command could not be parsed: {exc.what}; what it would run cannot be known"
        ) from None
    except RecursionError:
        raise Denied("validate", "unparseable", "command nests too deeply to be judged") from None
    except Exception as exc:
        raise Denied("validate", "policy_error", "the command policy failed on this command; refused") from exc
    programs = tuple(dict.fromkeys(found))
    executables = frozenset(e for p in programs for e in p.executables)
    return CommandDecision(decide(programs, policy.unknown), programs, executables)
