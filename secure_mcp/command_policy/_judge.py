"""The judge: turns each simple command the parser found into program verdicts.

Order of questions for one command: is its name knowable at all; is it a function defined in the
same command; is it a privilege helper, a wrapper, a code-running builtin, an interpreter, a text
tool with a command language, ``find`` or ``git``; otherwise what the lists say. Wrappers recurse on
what they wrap, so ``env nice xargs rm`` ends at ``rm``.
"""

from __future__ import annotations

from secure_mcp.command_policy.model import CommandPolicy, ProgramVerdict, Verdict, strictest
from secure_mcp.command_policy.names import ProgramName, program_name
from secure_mcp.command_policy.opaque import (
    CODE_BUILTINS,
    DECLARATIONS,
    interpreter_spec,
    is_dangerous_variable,
    script_source,
)
from secure_mcp.command_policy.parse import ParsedCommand, SimpleCommand, Unparseable, Word, parse_command
from secure_mcp.command_policy.text_tools import AWKS, SEDS, is_awk_executing, is_sed_executing
from secure_mcp.command_policy.wrappers import MULTICALL, PRIVILEGED, WRAPPERS, unwrap

MAX_PEEK_DEPTH = 4
# Builtins that start nothing and cannot change how later names resolve; allowed unless listed.
INERT_BUILTINS = frozenset(
    {"cd", "pwd", "true", "false", ":", "test", "[", "exit", "return", "break", "continue", "shift", "wait"}
)
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
PV = ProgramVerdict


def show(text: str, limit: int = 48) -> str:
    """Make user text safe and short for one explanation line (no newlines or control characters)."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _changes_loading(name: str, where: str) -> ProgramVerdict:
    return PV(f"{show(name)}=… ({where})", "unknown", "changes how programs are found or loaded")


class Judge:
    """Judges commands against one policy; holds no state between calls."""

    def __init__(self, policy: CommandPolicy) -> None:
        self.policy = policy

    def command(self, source: str, depth: int = 0) -> list[ProgramVerdict]:
        """Judge every program in ``source``. Raises ``Unparseable`` if it cannot be parsed."""
        parsed = parse_command(source)
        functions = frozenset(parsed.functions)
        found = self._function_definitions(parsed, functions)
        for simple in parsed.commands:
            found.extend(self._simple(simple, functions, depth))
        return found

    def _is_known_name(self, name: str) -> bool:
        p = self.policy
        return (
            name in p.allow
            or name in p.confirm
            or name in p.deny
            or name in INERT_BUILTINS
            or name in WRAPPERS
            or name in CODE_BUILTINS
            or interpreter_spec(name) is not None
        )

    def _function_definitions(self, parsed: ParsedCommand, functions: frozenset[str]) -> list[ProgramVerdict]:
        found: list[ProgramVerdict] = []
        for name in dict.fromkeys(parsed.functions):
            calls = [c for c in parsed.commands if c.function == name and c.words and c.words[0].literal in functions]
            if self._is_known_name(name):
                found.append(PV(f"function {show(name)}", "unknown", "a function defined here shadows that program"))
            elif calls:
                found.append(
                    PV(
                        f"function {show(name)}",
                        "unknown",
                        "calls a function defined here (recursion, fork-bomb shape)",
                    )
                )
        return found

    def _simple(self, simple: SimpleCommand, functions: frozenset[str], depth: int) -> list[ProgramVerdict]:
        found = [
            _changes_loading(a.raw.split("=", 1)[0], "assignment")
            for a in simple.assignments
            if is_dangerous_variable(a.raw.split("=", 1)[0].rstrip("+"))
        ]
        if simple.words:
            found.extend(self._argv(simple.words, functions, depth, None))
        return found

    def _listed(self, prog: ProgramName) -> tuple[Verdict, str]:
        verdict, why = self.policy.verdict_for(prog.name)
        if verdict == "unknown" and prog.name in INERT_BUILTINS:
            verdict, why = "allow", "shell builtin that starts nothing"
        if verdict == "allow" and not prog.is_system_path:
            return "unknown", f"allowed name at {show(prog.literal)}, outside the system bin dirs (may be planted)"
        return verdict, why

    def _argv(
        self, words: tuple[Word, ...], functions: frozenset[str], depth: int, via: str | None
    ) -> list[ProgramVerdict]:
        suffix = f", wrapped by {via}" if via else ""
        first = words[0].literal
        if first is None:
            return [
                PV(
                    f"{show(words[0].raw)} (expansion in command position)",
                    "unknown",
                    "the program name is only known at run time" + suffix,
                )
            ]
        prog = program_name(first)
        name = prog.name
        if via is None and "/" not in first and name in functions:
            return [PV(f"{show(name)} (function defined here)", "allow", "runs its body, judged on its own lines")]
        verdict, why = self._listed(prog)
        own = PV(show(name), verdict, why + suffix)
        if name in PRIVILEGED:
            own = PV(show(name), "deny", "escalates privileges; always denied" + suffix)
        if name in WRAPPERS or name in MULTICALL:
            return self._wrapper(prog, own, words, depth)
        if name in CODE_BUILTINS:
            return [
                PV(show(name), strictest(verdict, "unknown"), CODE_BUILTINS[name] + suffix),
                *self._peek(words, name, depth),
            ]
        if name in DECLARATIONS:
            return [own, *self._declaration(name, words)]
        if name in AWKS or name in SEDS:
            is_exec = is_awk_executing(words) if name in AWKS else is_sed_executing(words)
            if is_exec:
                return [
                    PV(
                        f"{show(name)} <program that can run commands>",
                        strictest(verdict, "unknown"),
                        f"the {name} program may start commands (system, pipes, e)" + suffix,
                    )
                ]
            return [own]
        spec = interpreter_spec(name)
        if spec is not None:
            return self._interpreter(name, spec.is_shell, script_source(spec, words), verdict, own, depth, suffix)
        if name == "find":
            return [own, *self._find(words, functions, depth)]
        if name == "git":
            return [own, *self._git(words, verdict)]
        return [own]

    def _wrapper(
        self, prog: ProgramName, own: ProgramVerdict, words: tuple[Word, ...], depth: int
    ) -> list[ProgramVerdict]:
        name = prog.name
        unwrapped = unwrap(name, words)
        listed, _ = self.policy.verdict_for(name)
        if own.verdict == "unknown" and listed == "unknown" and prog.is_system_path and unwrapped.inner:
            own = PV(show(name), "allow", "wrapper, judged by the program it starts")
        if not unwrapped.inner and unwrapped.opaque is None and name == "exec":
            return []
        found = [own] + [
            _changes_loading(a, f"set by {name}") for a in unwrapped.assignments if is_dangerous_variable(a)
        ]
        if unwrapped.opaque is not None:
            found.append(PV(f"{show(name)} <hidden command>", "unknown", unwrapped.opaque))
            if unwrapped.hidden_code is not None:
                found.extend(self._peek_text(unwrapped.hidden_code, depth))
        elif unwrapped.inner:
            found.extend(self._argv(unwrapped.inner, frozenset(), depth, name))
        elif name == "chroot":
            found.append(PV("chroot <shell>", "unknown", "chroot without a command starts a shell"))
        return found

    def _interpreter(
        self,
        name: str,
        is_shell: bool,
        source: tuple[str, str | None],
        verdict: Verdict,
        own: ProgramVerdict,
        depth: int,
        suffix: str,
    ) -> list[ProgramVerdict]:
        kind, code = source
        hidden = strictest(verdict, "unknown")
        if kind in ("script", "info"):
            return [own]
        if kind == "inline":
            found = [PV(f"{show(name)} <inline code>", hidden, f"inline code for {name} cannot be judged" + suffix)]
            if is_shell and code is not None:
                found.extend(self._peek_text(code, depth))
            return found
        if kind == "stdin":
            return [
                PV(
                    f"{show(name)} <program from stdin>",
                    hidden,
                    f"{name} reads its program from stdin (pipe, here-document, redirect)" + suffix,
                )
            ]
        return [
            PV(
                f"{show(name)} <arguments from expansion>",
                hidden,
                f"an expansion could give {name} inline code" + suffix,
            )
        ]

    def _declaration(self, name: str, words: tuple[Word, ...]) -> list[ProgramVerdict]:
        found: list[ProgramVerdict] = []
        for word in words[1:]:
            if word.literal is None:
                found.append(PV(f"{name} <expanded arguments>", "unknown", "could assign a variable like PATH"))
            elif "=" in word.literal and is_dangerous_variable(word.literal.split("=", 1)[0].rstrip("+")):
                found.append(_changes_loading(word.literal.split("=", 1)[0], f"set by {name}"))
        return found

    def _find(self, words: tuple[Word, ...], functions: frozenset[str], depth: int) -> list[ProgramVerdict]:
        found: list[ProgramVerdict] = []
        i = 1
        while i < len(words):
            lit = words[i].literal
            if lit is None:
                found.append(PV("find <expanded arguments>", "unknown", "an expansion could add -exec or -delete"))
            elif lit in _FIND_EXEC:
                end = i + 1
                while end < len(words) and words[end].literal not in (";", "+"):
                    end += 1
                if end > i + 1:
                    found.extend(self._argv(words[i + 1 : end], functions, depth, f"find {lit}"))
                i = end
            elif lit == "-delete":
                rm, _ = self.policy.verdict_for("rm")
                found.append(PV("find -delete", "confirm" if rm == "unknown" else rm, "deletes files, judged as rm"))
            i += 1
        return found

    def _git(self, words: tuple[Word, ...], verdict: Verdict) -> list[ProgramVerdict]:
        for word in words[1:]:
            lit = word.literal
            if lit is None or lit.startswith(("-c", "--config-env", "--exec-path")):
                return [
                    PV(
                        "git -c <config>",
                        strictest(verdict, "unknown"),
                        "git options can set config (aliases, core.sshCommand, pagers) that runs commands",
                    )
                ]
            if not lit.startswith("-"):
                break
        return []

    def _peek(self, words: tuple[Word, ...], name: str, depth: int) -> list[ProgramVerdict]:
        """Look inside code strings given to eval/trap/alias so a denied program inside still denies."""
        literals = [w.literal for w in words[1:] if w.literal is not None]
        if name == "eval":
            return self._peek_text(" ".join(literals), depth)
        if name == "trap" and literals:
            return self._peek_text(literals[0], depth)
        if name == "alias":
            return [v for lit in literals if "=" in lit for v in self._peek_text(lit.split("=", 1)[1], depth)]
        return []

    def _peek_text(self, code: str, depth: int) -> list[ProgramVerdict]:
        if depth >= MAX_PEEK_DEPTH or not code.strip():
            return []
        try:
            return self.command(code, depth + 1)
        except Unparseable:
            return []
