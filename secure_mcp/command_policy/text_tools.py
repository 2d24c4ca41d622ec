"""awk and sed: text tools whose program language can start other programs.

awk runs commands through ``system()``, pipes (``print | "sh"``, ``"cmd" | getline``) and gawk
extensions (``@load``, indirect ``@f()`` calls); GNU sed through its ``e`` command and the ``e``
flag of ``s``. Their programs are usually short and inline, so we read them: an awk program that
mentions none of those, or a sed script with no ``e``, is judged as awk or sed itself; anything we
cannot read is treated as able to run commands (fail closed).
"""

from __future__ import annotations

import re

from secure_mcp.command_policy.parse import Word

AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})
SEDS = frozenset({"sed", "gsed"})
_AWK_EXEC = re.compile(r"system|getline|\||@")
_AWK_ARGS = frozenset({"-F", "-v", "-i", "--include", "--field-separator", "--assign"})
_AWK_FILES = frozenset({"-f", "--file"})
_AWK_CODE = frozenset({"-e", "--source"})
_AWK_EXTENSION = frozenset({"-l", "--load"})
_SED_ARGS = frozenset({"-l", "--line-length"})
_SED_CODE = frozenset({"-e", "--expression"})
_SED_FILES = frozenset({"-f", "--file"})
_SED_TO_EOL = frozenset("aicrwRW#")
_SED_TO_SEMI = frozenset("btT:qQlLv")
_SED_SIMPLE = frozenset("dDgGhHnNpPxzF=")


def _programs(
    words: tuple[Word, ...], args: frozenset[str], code: frozenset[str], files: frozenset[str]
) -> tuple[list[str | None], bool]:
    """Collect inline programs (``None`` if not literal) and whether a program file is used."""
    programs: list[str | None] = []
    has_file = False
    i = 1
    while i < len(words):
        lit = words[i].literal
        value = words[i + 1].literal if i + 1 < len(words) else None
        if lit is None:
            return [None], has_file
        option = lit.split("=", 1)[0] if lit.startswith("--") else lit[:2]
        attached = lit[len(option) + (1 if lit.startswith("--") else 0) :]
        if lit == "--":
            i += 1
            break
        if lit.startswith("-") and len(lit) > 1:
            step = 1 if attached else 2
            if option in code:
                programs.append(attached or value)
            elif option in files:
                has_file = True
            elif option not in args:
                step = 1
            i += step
            continue
        break
    if not programs and not has_file:
        programs.append(words[i].literal if i < len(words) else None)
    return programs, has_file


def is_awk_executing(words: tuple[Word, ...]) -> bool:
    """Tell whether an awk call may start programs (or load code we cannot read)."""
    if any(w.literal is not None and w.literal.split("=")[0] in _AWK_EXTENSION for w in words[1:]):
        return True
    programs, _ = _programs(words, _AWK_ARGS, _AWK_CODE, _AWK_FILES)
    return any(p is None or _AWK_EXEC.search(p) for p in programs)


def is_sed_executing(words: tuple[Word, ...]) -> bool:
    """Tell whether a sed call may run commands; ``--sandbox`` forbids it in GNU sed."""
    if any(w.literal == "--sandbox" for w in words[1:]):
        return False
    programs, _ = _programs(words, _SED_ARGS, _SED_CODE, _SED_FILES)
    return any(p is None or _sed_script_executes(p) for p in programs)


def _skip_delimited(script: str, i: int, delim: str) -> int:
    """Return the index after the next unescaped ``delim`` from ``i``; raise if there is none."""
    while i < len(script):
        if script[i] == "\\":
            i += 2
            continue
        if script[i] == delim:
            return i + 1
        i += 1
    raise ValueError("unterminated")


def _sed_script_executes(script: str) -> bool:
    """Walk a sed script command by command; an ``e`` command, an ``s///e`` or anything odd is True."""
    i = 0
    try:
        while i < len(script):
            char = script[i]
            if char in " \t\n;{}!,$~+0123456789IM":
                i += 1
            elif char in "/\\":
                delim = "/" if char == "/" else script[i + 1]
                i = _skip_delimited(script, i + (1 if char == "/" else 2), delim)
            elif char in "sy":
                delim = script[i + 1]
                i = _skip_delimited(script, _skip_delimited(script, i + 2, delim), delim)
                while i < len(script) and script[i] not in ";\n}":
                    if script[i] == "e" and char == "s":
                        return True
                    if script[i] == "w":
                        i = len(script) if "\n" not in script[i:] else script.index("\n", i)
                        break
                    i += 1
            elif char in _SED_TO_EOL:
                i = len(script) if "\n" not in script[i:] else script.index("\n", i)
            elif char in _SED_TO_SEMI:
                i = min([len(script)] + [j for j in (script.find(";", i), script.find("\n", i)) if j >= 0])
            elif char in _SED_SIMPLE:
                i += 1
            else:
                return True
    except (ValueError, IndexError):
        return True
    return False
