"""The value types of the command policy: what was found, how it was judged, and the rules.

They live apart from the judging code so the validate guard, the confirmation prompt and the audit
log can import them without pulling in the parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["allow", "confirm", "deny", "unknown"]
Decision = Literal["allow", "confirm", "deny"]

# unknown ranks above confirm: it becomes confirm or deny by policy, so it is never milder than confirm.
_RANK: dict[Verdict, int] = {"allow": 0, "confirm": 1, "unknown": 2, "deny": 3}


def strictest(*verdicts: Verdict) -> Verdict:
    """Return the strictest of ``verdicts`` (deny > unknown > confirm > allow); ``allow`` if none."""
    return max(verdicts, key=_RANK.__getitem__, default="allow")


@dataclass(frozen=True)
class ProgramVerdict:
    """One program (or opaque construct) the command would start, and how it was judged.

    Attributes:
        program: the normalised program name (``rm``), or a description of an opaque construct
            (``bash -c <inline code>``, ``$X (expansion in command position)``).
        verdict: the verdict for this program alone.
        why: a short reason, shown to the user and written to the audit log.
        executables: what this finding makes some process execve, each as it will be looked up:
            a bare name through PATH in the image, a path as written. Builtins and functions
            are none; ``find -exec rm`` gives ``find`` and ``rm`` as two findings.
        entry: the ``[tools.run_command]`` list entry that decides this finding (``rm``,
            ``git commit``, ``sed -i``), or ``None`` for constructs no config line can allow.
    """

    program: str
    verdict: Verdict
    why: str
    executables: frozenset[str] = field(default=frozenset())
    entry: str | None = None


@dataclass(frozen=True)
class CommandPolicy:
    """The program lists of ``[tools.run_command]``.

    Attributes:
        allow: programs that run without asking.
        confirm: programs that need a human yes.
        deny: programs that are always refused.
        unknown: what programs in no list, and opaque constructs, become: ``confirm`` or ``deny``.
    """

    allow: frozenset[str]
    confirm: frozenset[str]
    deny: frozenset[str]
    unknown: Literal["confirm", "deny"] = "confirm"

    def verdict_for(self, name: str) -> tuple[Verdict, str]:
        """Look ``name`` up in the lists; deny wins if a name is (wrongly) in several."""
        if name in self.deny:
            return "deny", "in deny list"
        if name in self.confirm:
            return "confirm", "in confirm list"
        if name in self.allow:
            return "allow", "in allow list"
        return "unknown", "not in any list"


@dataclass(frozen=True)
class CommandDecision:
    """The outcome for a whole command: the strictest verdict over every program found.

    Attributes:
        decision: ``deny`` if anything is denied (or unknown under ``unknown = "deny"``),
            ``confirm`` if anything needs confirmation or is unknown, else ``allow``.
        programs: every program and opaque construct found, in source order, without duplicates.
        executables: every program the command may start through execve (the union of the
            findings' executables): what the sandbox's exec tracer is told to let run.
    """

    decision: Decision
    programs: tuple[ProgramVerdict, ...]
    executables: frozenset[str] = field(default=frozenset())

    def approved(self) -> tuple[str, ...]:
        """Sorted executables of every finding that is not denied: the set a yes approves."""
        return tuple(sorted({e for p in self.programs if p.verdict != "deny" for e in p.executables}))

    def explain(self) -> str:
        """One line per program with its verdict, for refusals, confirmation prompts and the audit log."""
        if not self.programs:
            return "no program would start (assignments or redirections only)"
        return "\n".join(f"{p.program}: {p.verdict} ({p.why})" for p in self.programs)

    def needs_yes(self) -> list[str]:
        """One line per finding that needs a yes, with the config line that would allow it, if any."""
        lines: list[str] = []
        for p in self.programs:
            if p.verdict not in ("confirm", "unknown"):
                continue
            if p.entry is None:
                lines.append(f"{p.program}: {p.why}; no config line allows this, it needs a yes")
            elif p.why.startswith("in confirm list"):
                lines.append(
                    f'{p.program}: in confirm list; to run it without asking move "{p.entry}" from confirm '
                    "to allow in [tools.run_command]"
                )
            else:
                lines.append(
                    f'{p.program}: {p.why}; to run it without asking add "{p.entry}" to allow in [tools.run_command]'
                )
        return list(dict.fromkeys(lines))


def decide(programs: tuple[ProgramVerdict, ...], unknown: Literal["confirm", "deny"]) -> Decision:
    """Fold the program verdicts into one decision, mapping ``unknown`` through the policy."""
    worst = strictest(*(p.verdict for p in programs))
    if worst == "unknown":
        return unknown
    return worst
