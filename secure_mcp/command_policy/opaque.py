"""Opaque constructs: places where the program that runs is code we are not shown or cannot judge.

Interpreters are fine when they run a script file (``python3 script.py``: the sandbox is the
boundary) but not when handed code inline (``-c``, ``-e``) or reading it from stdin (``| sh``,
``<<< ... bash``, ``python3 -``), because that code can start any program. The same holds for
``eval``, ``source``, ``trap``, ``alias`` and ``watch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from secure_mcp.command_policy.parse import Word


@dataclass(frozen=True)
class InterpreterSpec:
    """Options of one interpreter family: which carry code, which name a script, which take values."""

    inline: frozenset[str]
    arg_options: frozenset[str] = frozenset()
    script_options: frozenset[str] = frozenset()
    stdin_options: frozenset[str] = frozenset()
    is_shell: bool = False


def _i(inline: str, args: str = "", script: str = "", stdin: str = "", is_shell: bool = False) -> InterpreterSpec:
    return InterpreterSpec(
        frozenset(inline.split()),
        frozenset(args.split()),
        frozenset(script.split()),
        frozenset(stdin.split()),
        is_shell,
    )


_SHELL = _i("-c", "-o +o -O +O --rcfile --init-file", stdin="-s -i", is_shell=True)
_PYTHON = _i("-c", "-W -X -Q", script="-m")
_NODE = _i("-e -p --eval --print", "-r --require --import --loader --input-type")
INTERPRETERS: dict[str, InterpreterSpec] = {
    **dict.fromkeys(
        ("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "rbash", "fish", "csh", "tcsh"), _SHELL
    ),
    **dict.fromkeys(("python", "python2", "python3", "pypy", "pypy3"), _PYTHON),
    **dict.fromkeys(("perl", "perl5"), _i("-e -E -M -m", "-I -x")),
    "ruby": _i("-e", "-r -I -C -E"),
    **dict.fromkeys(("node", "nodejs", "bun"), _NODE),
    "php": _i("-r -B -R -E -F", "-c -d -z", script="-f"),
    **dict.fromkeys(("lua", "luajit"), _i("-e", "-l")),
    "Rscript": _i("-e"),
    "julia": _i("-e -E"),
    "osascript": _i("-e", "-l"),
    **dict.fromkeys(("pwsh", "powershell"), _i("-c -Command -EncodedCommand -e -ec")),
    "tclsh": _i(""),
}
_VERSIONED_PYTHON = re.compile(r"python[23](\.\d+)?")
_INFO_OPTIONS = frozenset({"--version", "-V", "--help", "-h"})

# Assigning these in a command prefix (or with export/env) changes which code a later program loads.
_DANGEROUS_NAMES = frozenset(
    {
        "PATH",
        "BASH_ENV",
        "ENV",
        "IFS",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
        "GLOBIGNORE",
        "PROMPT_COMMAND",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PYTHONWARNINGS",
        "PYTHONBREAKPOINT",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PAGER",
        "EDITOR",
        "VISUAL",
        "LESSOPEN",
        "LESSCLOSE",
        "GCONV_PATH",
        "HOSTALIASES",
        "HOME",
        "ZDOTDIR",
        "TMPDIR",
    }
)
_DANGEROUS_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_", "GIT_", "MALLOC_")
DECLARATIONS = frozenset({"export", "declare", "typeset", "local", "readonly"})
# Builtins whose arguments are shell code run later or now.
CODE_BUILTINS: dict[str, str] = {
    "eval": "eval runs its arguments as shell code",
    "source": "source runs a script in this shell",
    ".": ". runs a script in this shell",
    "trap": "trap runs its string as shell code later",
    "alias": "an inline alias definition replaces a command name",
    "watch": "watch runs its arguments through sh -c",
    "parallel": "parallel runs its arguments through a shell",
    "script": "script runs a shell or a -c string",
}

ScriptKind = Literal["inline", "stdin", "script", "info", "opaque"]


def interpreter_spec(name: str) -> InterpreterSpec | None:
    """Return the interpreter family of ``name`` (``python3.12`` counts as python), if any."""
    if _VERSIONED_PYTHON.fullmatch(name):
        return _PYTHON
    return INTERPRETERS.get(name)


def is_dangerous_variable(name: str) -> bool:
    """Tell whether assigning ``name`` can make a later program find or load other code."""
    return name in _DANGEROUS_NAMES or name.startswith(_DANGEROUS_PREFIXES)


def script_source(spec: InterpreterSpec, words: tuple[Word, ...]) -> tuple[ScriptKind, str | None]:
    """Tell where an interpreter's program comes from, and its code when given inline.

    Returns:
        ``("inline", code)`` for ``-c``/``-e`` code (``code`` is ``None`` if not literal);
        ``("stdin", None)`` when it reads the program from stdin; ``("script", path)`` for a file or
        module; ``("info", None)`` for ``--version``/``--help``; ``("opaque", None)`` when an
        expansion hides the arguments.
    """
    is_info = False
    i = 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            return "opaque", None
        nxt = words[i + 1].literal if i + 1 < len(words) else None
        if lit == "-":
            return "stdin", None
        if lit == "--":
            return ("script", nxt) if nxt is not None else ("stdin", None)
        if lit.startswith("--"):
            option, has_value, value = lit.partition("=")
            if option in spec.inline:
                return "inline", value if has_value else nxt
            if option in spec.script_options:
                return "script", value if has_value else nxt
            is_info = is_info or option in _INFO_OPTIONS
            i += 2 if option in spec.arg_options and not has_value else 1
            continue
        if len(lit) > 1 and (lit[0] == "-" or (spec.is_shell and lit[0] == "+")):
            is_info = is_info or lit in _INFO_OPTIONS
            for index, letter in enumerate(lit[1:], start=2):
                option = "-" + letter
                rest = lit[index:] or nxt
                if option in spec.inline:
                    return "inline", nxt if spec.is_shell else rest
                if option in spec.script_options:
                    return "script", rest
                if option in spec.stdin_options:
                    return "stdin", None
                if option in spec.arg_options or lit[0] + letter in spec.arg_options:
                    i += 0 if lit[index:] else 1
                    break
            i += 1
            continue
        return "script", lit
    return ("info", None) if is_info else ("stdin", None)
