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
    """Options of one interpreter family: which carry code, which name a script, which take values.

    ``strict`` families (python, the shells) also list every other option they accept
    (``flags``); an option outside the table is then ``unknown``, because it may be one that
    runs code (``python3 --check-hash-based-pycs always -c CODE`` once hid a ``-c``).
    """

    inline: frozenset[str]
    arg_options: frozenset[str] = frozenset()
    script_options: frozenset[str] = frozenset()
    stdin_options: frozenset[str] = frozenset()
    # A shell family (bash, sh, dash...): its inline code is bash, so the policy parses and judges
    # it like the command itself. Not a way of starting anything (this module starts nothing).
    is_shell: bool = False
    flags: frozenset[str] | None = None


def _i(
    inline: str, args: str = "", script: str = "", stdin: str = "", is_shell: bool = False, flags: str | None = None
) -> InterpreterSpec:
    return InterpreterSpec(
        frozenset(inline.split()),
        frozenset(args.split()),
        frozenset(script.split()),
        frozenset(stdin.split()),
        is_shell,
        None if flags is None else frozenset(flags.split()),
    )


_SHELL = _i(
    "-c",
    "-o +o -O +O",
    stdin="-s -i",
    is_shell=True,
    flags="-a -b -e -f -h -k -m -n -p -t -u -v -x -B -C -E -H -P -T -l -r +a +b +e +f +h +k +m +n +p +t +u +v +x "
    "+B +C +E +H +P +T --norc --noprofile --posix --login --restricted --noediting --verbose --version --help",
)
_PYTHON = _i(
    "-c",
    "-W -X --check-hash-based-pycs",
    script="-m",
    stdin="-i",
    flags="-b -B -d -E -h -I -O -P -q -s -S -u -v -V -x -? --help --version --help-env --help-xoptions --help-all",
)
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
# ``python3 -m X`` for these runs files of the workspace (tests, a venv), like ``python3 script.py``;
# any other module may execute text it is given (timeit -s, runpy, code, pdb, cProfile -c ...).
SCRIPT_MODULES = frozenset(
    {"pytest", "unittest", "venv", "py_compile", "compileall", "json.tool", "doctest", "mypy", "tabnanny", "ast", "dis"}
)
# Script paths that are really stdin or a descriptor: the program text comes from a pipe.
_STDIN_PATHS = ("/dev/", "/proc/")
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
        "PYTHONINSPECT",
        "SHELL",
        "MAKEFLAGS",
        "MAKEFILES",
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
DECLARATIONS = frozenset({"export", "declare", "typeset", "local", "readonly", "unset"})
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

ScriptKind = Literal["inline", "stdin", "script", "module", "info", "opaque", "option"]


def interpreter_spec(name: str) -> InterpreterSpec | None:
    """Return the interpreter family of ``name`` (``python3.12`` counts as python), if any."""
    if _VERSIONED_PYTHON.fullmatch(name):
        return _PYTHON
    return INTERPRETERS.get(name)


def is_dangerous_variable(name: str) -> bool:
    """Tell whether assigning ``name`` can make a later program find or load other code."""
    return name in _DANGEROUS_NAMES or name.startswith(_DANGEROUS_PREFIXES)


def script_source(spec: InterpreterSpec, words: tuple[Word, ...]) -> tuple[ScriptKind, str | None, int]:
    """Tell where an interpreter's program comes from, and its code, path or option.

    Returns:
        ``(kind, value, index)``: ``("inline", code)`` for ``-c``/``-e`` code (``None`` if not
        literal); ``("stdin", None)`` when it reads the program from stdin (no script, ``-``,
        ``-i``, ``-s``, ``/dev/stdin``); ``("script", path)`` for a file; ``("module", name)`` for
        ``-m``; ``("info", None)`` for ``--version``/``--help``; ``("opaque", None)`` when an
        expansion hides the arguments; ``("option", option)`` for an option a strict table does
        not know. ``index`` is where the script's own arguments start.
    """
    is_info = False
    i = 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            return "opaque", None, i
        nxt = words[i + 1].literal if i + 1 < len(words) else None
        if lit == "-":
            return "stdin", None, i
        if lit == "--":
            if i + 1 >= len(words):
                return "stdin", None, i
            return ("script", nxt, i + 2) if nxt is not None else ("opaque", None, i)
        if lit.startswith("--"):
            option, has_value, value = lit.partition("=")
            if option in spec.inline:
                return "inline", value if has_value else nxt, i + 2
            if option in spec.script_options:
                return "script", value if has_value else nxt, i + 2
            if option in spec.stdin_options:
                return "stdin", None, i
            if spec.flags is not None and option not in spec.flags and option not in spec.arg_options:
                return "option", option, i
            is_info = is_info or option in _INFO_OPTIONS
            i += 2 if option in spec.arg_options and not has_value else 1
            continue
        if len(lit) > 1 and (lit[0] == "-" or (spec.is_shell and lit[0] == "+")):
            is_info = is_info or lit in _INFO_OPTIONS
            step = 1
            for index, letter in enumerate(lit[1:], start=2):
                option = lit[0] + letter
                rest = lit[index:] or nxt
                if option in spec.inline:
                    return "inline", nxt if spec.is_shell else rest, i + 2
                if option in spec.script_options:
                    return ("module" if spec is _PYTHON else "script"), rest, i + (1 if lit[index:] else 2)
                if option in spec.stdin_options:
                    return "stdin", None, i
                if option in spec.arg_options:
                    step = 1 if lit[index:] else 2
                    break
                if spec.flags is not None and option not in spec.flags:
                    return "option", option, i
            i += step
            continue
        if lit.startswith(_STDIN_PATHS):
            return "stdin", None, i
        return "script", lit, i + 1
    return ("info", None, i) if is_info else ("stdin", None, i)
