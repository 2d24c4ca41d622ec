"""The judge: turns each simple command the parser found into program verdicts.

Order of questions for one command: is its name knowable at all; is it a shell keyword (``time``,
``coproc``) or a function defined in the same command; is it a privilege helper, a wrapper, a
code-running builtin, a declaration, a text tool with a command language, an interpreter, a program
with an option table (find, git, tar, sort, split, rsync, make) or an interactive program; otherwise
what the lists say. Wrappers recurse on what they wrap, so ``env nice xargs rm`` ends at ``rm``.

Each finding also carries the programs it makes some process execve (``executables``), as they will
be looked up: the sandbox lets exactly those start. A builtin run by the shell is none; the same
name started by ``env``, ``xargs``, ``find -exec`` or ``exec`` is the program on disk.
"""

from __future__ import annotations

from secure_mcp.command_policy.model import CommandPolicy, ProgramVerdict, Verdict, strictest
from secure_mcp.command_policy.names import ProgramName, program_name
from secure_mcp.command_policy.opaque import (
    CODE_BUILTINS,
    DECLARATIONS,
    SCRIPT_MODULES,
    interpreter_spec,
    is_dangerous_variable,
    script_source,
)
from secure_mcp.command_policy.parse import ParsedCommand, SimpleCommand, Unparseable, Word, parse_command
from secure_mcp.command_policy.programs import GIT_READ, INTERACTIVE, READERS, Reading
from secure_mcp.command_policy.text_tools import AWKS, SEDS, awk_executes, read_awk, read_sed, sed_executes
from secure_mcp.command_policy.wrappers import MULTICALL, PRIVILEGED, SHELL_WRAPPERS, WRAPPERS, unwrap

MAX_PEEK_DEPTH = 4
# Reserved words that cannot start a command: unquoted and first, bash reports a syntax error
# (``x=1 done`` and ``"done"`` are the program ``done`` to bash, and are judged as such).
CLOSING_WORDS = frozenset({"do", "done", "then", "else", "elif", "fi", "esac", "in", "}", "]]"})

# Builtins that start nothing and cannot change how later names resolve; allowed unless listed.
INERT_BUILTINS = frozenset(
    {
        "cd",
        "pwd",
        "true",
        "false",
        ":",
        "test",
        "[",
        "exit",
        "return",
        "break",
        "continue",
        "shift",
        "wait",
        "echo",
        "printf",
        "read",
        "set",
        "shopt",
        "let",
        "getopts",
        "pushd",
        "popd",
        "dirs",
        "umask",
        "type",
        "jobs",
        "times",
        "mapfile",
        "readarray",
    }
)
# Every bash builtin: run by the shell itself, never execve'd when named bare by the shell.
BASH_BUILTINS = INERT_BUILTINS | frozenset(
    {
        "alias",
        "bg",
        "bind",
        "builtin",
        "caller",
        "command",
        "compgen",
        "complete",
        "compopt",
        "declare",
        "disown",
        "enable",
        "eval",
        "exec",
        "export",
        "fc",
        "fg",
        "hash",
        "help",
        "history",
        "kill",
        "local",
        "logout",
        "readonly",
        "source",
        ".",
        "suspend",
        "trap",
        "typeset",
        "ulimit",
        "unalias",
        "unset",
    }
)
PV = ProgramVerdict
_NONE: frozenset[str] = frozenset()


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
            or name in BASH_BUILTINS
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
        if not simple.assignments and simple.words and simple.words[0].raw in CLOSING_WORDS:
            # The parser took a reserved word for a command name (as after a here-document whose
            # body bash reads further than it looks); bash stops there with a syntax error, so the
            # two readings of the command differ: refuse rather than judge the wrong one.
            raise Unparseable(f"'{simple.words[0].raw}' where a command starts (bash: syntax error)")
        # A prefix IFS=... only changes how that one command splits (``IFS=, read a b``); bash does
        # not take IFS from its environment. Set alone or exported it changes later expansions.
        found = [
            _changes_loading(a.raw.split("=", 1)[0], "assignment")
            for a in simple.assignments
            if is_dangerous_variable(name := a.raw.split("=", 1)[0].split("[", 1)[0].rstrip("+"))
            and not (name == "IFS" and simple.words)
        ]
        if simple.words:
            found.extend(self._argv(simple.words, functions, depth, None, execs=False))
        return found

    def _listed(self, prog: ProgramName) -> tuple[Verdict, str]:
        verdict, why = self.policy.verdict_for(prog.name)
        if verdict == "unknown" and prog.name in INERT_BUILTINS | DECLARATIONS and "/" not in prog.literal:
            verdict, why = "allow", "shell builtin that starts nothing"
        if verdict == "allow" and not prog.is_system_path:
            return "unknown", f"allowed name at {show(prog.literal)}, outside the system bin dirs (may be planted)"
        return verdict, why

    def _argv(
        self, words: tuple[Word, ...], functions: frozenset[str], depth: int, via: str | None, *, execs: bool
    ) -> list[ProgramVerdict]:
        """Judge one argv. ``execs``: the launcher execve's it (env, xargs, exec), so a builtin name
        is the program on disk; otherwise the shell runs builtins and functions itself."""
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
        if via is None and words[0].raw in ("time", "coproc"):
            return self._keyword(words, functions, depth)
        if not execs and "/" not in first and name in functions:
            return [PV(f"{show(name)} (function defined here)", "allow", "runs its body, judged on its own lines")]
        verdict, why = self._listed(prog)
        is_exec = execs or "/" in first or name not in BASH_BUILTINS
        entry = show(name) if prog.is_system_path and name not in INERT_BUILTINS | DECLARATIONS else None
        own = PV(show(name), verdict, why + suffix, frozenset({first}) if is_exec else _NONE, entry)
        if name in PRIVILEGED:
            return [PV(show(name), "deny", "escalates privileges; always denied" + suffix, own.executables)]
        if name in WRAPPERS or name in MULTICALL:
            return self._wrapper(prog, own, words, depth)
        if name in CODE_BUILTINS:
            return [
                PV(show(name), strictest(verdict, "unknown"), CODE_BUILTINS[name] + suffix, own.executables),
                *self._peek(words, name, depth),
            ]
        if name in DECLARATIONS:
            return [own, *self._declaration(name, words)]
        if name in AWKS or name in SEDS:
            return self._text_tool(name, own, words, suffix)
        spec = interpreter_spec(name)
        if spec is not None:
            return self._interpreter(name, spec.is_shell, words, own, depth, suffix)
        if name in READERS:
            return self._read(name, own, READERS[name](words), functions, depth)
        if name in INTERACTIVE:
            return [
                PV(
                    show(name),
                    strictest(verdict, "unknown"),
                    "can run commands from its own prompt or config (!cmd, a pager, LESSOPEN)" + suffix,
                    own.executables,
                )
            ]
        return [own]

    def _keyword(self, words: tuple[Word, ...], functions: frozenset[str], depth: int) -> list[ProgramVerdict]:
        """``time [-p] CMD`` and ``coproc CMD``: shell keywords that run CMD; nothing of their own."""
        keyword = words[0].raw
        rest = words[1:]
        if keyword == "time" and rest and rest[0].literal == "-p":
            rest = rest[1:]
        if not rest:
            return []
        if rest[0].literal is None or rest[0].literal.startswith("-") or rest[0].literal in ("{", "("):
            return [PV(f"{keyword} <command>", "unknown", f"{keyword} with options or a compound we do not read")]
        if keyword == "coproc" and len(rest) > 1 and rest[1].literal in ("{", "("):
            raise Unparseable("coproc with a name and a compound command")
        return self._argv(rest, functions, depth, None, execs=False)

    def _wrapper(
        self, prog: ProgramName, own: ProgramVerdict, words: tuple[Word, ...], depth: int
    ) -> list[ProgramVerdict]:
        name = prog.name
        if name == "command" and any(w.literal in ("-v", "-V") for w in words[1:2]):
            return [PV("command -v", "allow", "only looks a name up", _NONE)]
        unwrapped = unwrap(name, words)
        listed, _ = self.policy.verdict_for(name)
        if own.verdict == "unknown" and listed == "unknown" and prog.is_system_path and unwrapped.inner:
            own = PV(show(name), "allow", "wrapper, judged by the program it starts", own.executables)
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
            if name in MULTICALL:
                inner = self._argv(unwrapped.inner, frozenset(), depth, name, execs=True)
                found.extend(PV(p.program, p.verdict, p.why) for p in inner[:1])
                found.extend(inner[1:])
            else:
                found.extend(self._argv(unwrapped.inner, frozenset(), depth, name, execs=name not in SHELL_WRAPPERS))
        elif name == "chroot":
            found.append(PV("chroot <shell>", "unknown", "chroot without a command starts a shell"))
        return found

    def _text_tool(self, name: str, own: ProgramVerdict, words: tuple[Word, ...], suffix: str) -> list[ProgramVerdict]:
        call = read_awk(words) if name in AWKS else read_sed(words)
        hidden = strictest(own.verdict, "unknown")
        if call.unknown_option is not None:
            return [
                PV(
                    f"{show(name)} {show(call.unknown_option)}",
                    hidden,
                    "option not in its table" + suffix,
                    own.executables,
                )
            ]
        if call.from_file is not None:
            return [
                PV(
                    f"{show(name)} {call.from_file} <program file>",
                    hidden,
                    f"the {name} program comes from a file and may start commands" + suffix,
                    own.executables | {"sh"},
                )
            ]
        if awk_executes(call) if name in AWKS else sed_executes(call):
            return [
                PV(
                    f"{show(name)} <program that can run commands>",
                    hidden,
                    f"the {name} program may start commands (system, pipes, e)" + suffix,
                    own.executables | {"sh"},
                )
            ]
        if call.in_place:
            listed, _ = self.policy.verdict_for(f"{name} -i")
            verdict = listed if listed != "unknown" else "confirm"
            entry = f"{name} -i"
            return [own, PV(entry, strictest(own.verdict, verdict), "edits files in place" + suffix, _NONE, entry)]
        return [own]

    def _interpreter(
        self, name: str, is_shell: bool, words: tuple[Word, ...], own: ProgramVerdict, depth: int, suffix: str
    ) -> list[ProgramVerdict]:
        spec = interpreter_spec(name)
        assert spec is not None  # noqa: S101 - only called for interpreters
        kind, value, index = script_source(spec, words)
        hidden = strictest(own.verdict, "unknown")
        exe = own.executables
        if kind in ("script", "info"):
            return [own]
        if kind == "module":
            if value in SCRIPT_MODULES:
                return [self._venv(own, words[index:]) if value == "venv" else own]
            return [
                PV(f"{show(name)} -m {show(value or '?')}", hidden, "the module may run code it is given" + suffix, exe)
            ]
        if kind == "inline":
            found = [
                PV(f"{show(name)} <inline code>", hidden, f"inline code for {name} cannot be judged" + suffix, exe)
            ]
            if is_shell and value is not None:
                found.extend(self._peek_text(value, depth))
            return found
        if kind == "stdin":
            return [
                PV(
                    f"{show(name)} <program from stdin>",
                    hidden,
                    f"{name} reads its program from stdin (pipe, here-document, /dev/stdin, -i)" + suffix,
                    exe,
                )
            ]
        if kind == "option":
            return [PV(f"{show(name)} {show(value or '?')}", hidden, "option not in its table" + suffix, exe)]
        return [
            PV(f"{show(name)} <arguments from expansion>", hidden, f"an expansion could give {name} code" + suffix, exe)
        ]

    def _venv(self, own: ProgramVerdict, args: tuple[Word, ...]) -> ProgramVerdict:
        """``python3 -m venv DIR`` runs ``DIR/bin/python3 -m ensurepip`` unless ``--without-pip``."""
        literals = [w.literal for w in args]
        if "--without-pip" in literals or not own.executables:
            return own
        if any(lit is None for lit in literals):
            return PV(own.program + " -m venv", strictest(own.verdict, "unknown"), "venv directory from an expansion")
        dirs = [lit for lit in literals if lit is not None and not lit.startswith("-")]
        if "--prompt" in literals:
            dirs = [d for d in dirs if d != literals[literals.index("--prompt") + 1]]
        python = own.program
        return PV(own.program, own.verdict, own.why, own.executables | {f"{d.rstrip('/')}/bin/{python}" for d in dirs})

    def _read(
        self, name: str, own: ProgramVerdict, reading: Reading, functions: frozenset[str], depth: int
    ) -> list[ProgramVerdict]:
        hidden = strictest(own.verdict, "unknown")
        own = PV(own.program, own.verdict, own.why, own.executables | reading.executables)
        if reading.unknown_option is not None:
            return [PV(f"{name} {show(reading.unknown_option)}", hidden, "option not in its table", own.executables)]
        if reading.hidden is not None:
            found = [PV(f"{name} <runs something hidden>", hidden, show(reading.hidden, 120), own.executables)]
            return found + [v for code in reading.shell_code if code for v in self._peek_text(code, depth)]
        found = [own]
        for argv in reading.runs:
            found.extend(self._argv(argv, functions, depth, f"{name}", execs=True))
        for code in reading.shell_code:
            found.append(PV(f"{name} <shell code>", hidden, f"{name} hands a string to sh -c", frozenset({"sh"})))
            if code is not None:
                found.extend(self._peek_text(code, depth))
        if reading.deletes:
            rm, _ = self.policy.verdict_for("rm")
            found.append(
                PV("find -delete", "confirm" if rm in ("unknown", "allow") else rm, "deletes files, judged as rm")
            )
        if name == "git" and reading.subcommand is not None and reading.subcommand not in GIT_READ:
            found.append(self._git_subcommand(reading.subcommand, reading.read_only, own.verdict))
        return found

    def _git_subcommand(self, sub: str, read_only: bool, git: Verdict) -> ProgramVerdict:
        entry = f"git {show(sub)}"
        listed, why = self.policy.verdict_for(entry)
        if listed != "unknown":
            return PV(entry, strictest(git, listed), why, _NONE, entry)
        if read_only:
            return PV(entry, git, "only lists or reads", _NONE, entry)
        return PV(entry, strictest(git, "confirm"), "changes the repository or the workspace", _NONE, entry)

    def _declaration(self, name: str, words: tuple[Word, ...]) -> list[ProgramVerdict]:
        found: list[ProgramVerdict] = []
        for word in words[1:]:
            if word.literal is None:
                found.append(PV(f"{name} <expanded arguments>", "unknown", "could assign a variable like PATH"))
            elif not word.literal.startswith("-"):
                variable = word.literal.split("=", 1)[0].split("[", 1)[0].rstrip("+")
                if is_dangerous_variable(variable):
                    found.append(_changes_loading(variable, f"set by {name}"))
        return found

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
