"""Generated commands: the policy reports exactly the programs bash would execve, and allows them.

The generator (strategies.py) knows what each command starts; under-reporting would get real
commands killed by the sandbox's tracer, over-reporting would weaken it, so the sets must be equal.
"""

from __future__ import annotations

from hypothesis import given, settings

from secure_mcp.command_policy import CommandPolicy, judge_command
from tests.command_policy.strategies import BUILTIN, EXTERNAL, Generated, commands
from tests.properties import examples

POLICY = CommandPolicy(
    allow=frozenset(EXTERNAL) | frozenset(BUILTIN) | {"env", "nice", "timeout", "xargs", "find"},
    confirm=frozenset(),
    deny=frozenset(),
)


@settings(max_examples=examples(1000), deadline=None)
@given(commands())
def test_generated_command_reports_exactly_what_it_would_execve(generated: Generated) -> None:
    """Across pipelines, lists, loops, case, substitutions, here-documents, functions and wrappers."""
    command, executables = generated
    decision = judge_command(command, POLICY)
    assert decision.executables == executables, (command, decision.explain())
    # only a function calling a function of the command (nested ``f() { f() ...``) may ask
    asking = [p for p in decision.programs if p.verdict != "allow"]
    assert all(p.why.startswith("calls a function defined here") for p in asking), (command, decision.explain())
