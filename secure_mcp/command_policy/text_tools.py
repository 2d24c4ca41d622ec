"""awk and sed: text tools whose program language can start other programs.

awk runs commands through ``system()``, pipes (``print | "sh"``, ``"cmd" | getline``) and gawk
extensions (``@load``, indirect ``@f()`` calls); GNU sed through its ``e`` command and the ``e``
flag of ``s``. Their programs are usually short and inline, so we read them: an awk program that
mentions none of those, or a sed script with no ``e``, is judged as awk or sed itself. Their options
are read from a full table: a program file (``-f``, awk's ``-i``/``-E``), an extension (``-l``) or
an option the table does not know is ``unknown``; ``sed -i`` edits files in place and needs a yes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from secure_mcp.command_policy.parse import Word

AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})
SEDS = frozenset({"sed", "gsed"})
_AWK_EXEC = re.compile(r"system|getline|\||@")


@dataclass(frozen=True)
class _Table:
    """One tool's options: flags, options with a value, code, code from a file, in-place."""

    flags: frozenset[str]
    args: frozenset[str]
    code: frozenset[str]
    files: frozenset[str]
    optional: frozenset[str] = frozenset()  # take a value only when attached (-i.bak, -ofile)
    in_place: frozenset[str] = frozenset()


def _t(flags: str, args: str, code: str, files: str, optional: str = "", in_place: str = "") -> _Table:
    return _Table(*(frozenset(x.split()) for x in (flags, args, code, files, optional, in_place)))


_SED = _t(
    "-n --quiet --silent --debug -E -r --regexp-extended -s --separate -u --unbuffered -z --null-data --posix "
    "--sandbox --follow-symlinks -b --binary --help --version",
    "-l --line-length",
    "-e --expression",
    "-f --file",
    in_place="-i --in-place",
)
_AWK = _t(
    "-b -c -C -g -h -M -n -N -O -P -r -s -S -t -V --characters-as-bytes --traditional --copyright --gen-pot "
    "--help --optimize --posix --re-interval --no-optimize --sandbox --use-lc-numeric --version --bignum "
    "--non-decimal-data --lint -L",
    "-F --field-separator -v --assign",
    "-e --source",
    "-f --file -i --include -E --exec -l --load -D --debug",
    optional="-o --pretty-print -d --dump-variables -p --profile --lint -L",
)


@dataclass
class TextToolCall:
    """What a sed or awk call does: its inline programs (``None``: not literal) and risky options."""

    programs: list[str | None] = field(default_factory=list)
    from_file: str | None = None
    in_place: bool = False
    unknown_option: str | None = None
    sandboxed: bool = False


def _read(words: tuple[Word, ...], table: _Table) -> TextToolCall:
    call = TextToolCall()
    i = 1
    while i < len(words):
        lit = words[i].literal
        nxt = words[i + 1].literal if i + 1 < len(words) else None
        if lit is None:
            call.programs.append(None)
            return call
        if lit == "--":
            i += 1
            break
        if lit.startswith("--"):
            option, has_value, value = lit.partition("=")
            call.sandboxed = call.sandboxed or option == "--sandbox"
            if option in table.code:
                call.programs.append(value if has_value else nxt)
            elif option in table.files:
                call.from_file = option
            elif option in table.in_place:
                call.in_place = True
            elif option not in table.flags and option not in table.args and option not in table.optional:
                call.unknown_option = option
                return call
            i += 2 if (option in table.args or option in table.code or option in table.files) and not has_value else 1
            continue
        if lit.startswith("-") and len(lit) > 1:
            step = 1
            for index, letter in enumerate(lit[1:], start=2):
                option, rest = "-" + letter, lit[index:]
                if option in table.code:
                    call.programs.append(rest or nxt)
                elif option in table.files:
                    call.from_file = option
                elif option in table.in_place:
                    call.in_place = True
                    break
                elif option in table.optional:
                    break
                elif option in table.args:
                    pass
                elif option not in table.flags:
                    call.unknown_option = option
                    return call
                else:
                    continue
                step = 1 if rest or option in table.optional or option in table.in_place else 2
                break
            i += step
            continue
        break
    if not call.programs and call.from_file is None:
        call.programs.append(words[i].literal if i < len(words) else None)
    return call


def read_sed(words: tuple[Word, ...]) -> TextToolCall:
    """Read a sed call's options and scripts."""
    return _read(words, _SED)


def read_awk(words: tuple[Word, ...]) -> TextToolCall:
    """Read an awk call's options and programs."""
    return _read(words, _AWK)


def awk_executes(call: TextToolCall) -> bool:
    """Tell whether an awk program may start programs (``--sandbox`` forbids it in gawk)."""
    if call.sandboxed:
        return False
    return any(p is None or _AWK_EXEC.search(p) for p in call.programs)


def sed_executes(call: TextToolCall) -> bool:
    """Tell whether a sed script may run commands; ``--sandbox`` forbids it in GNU sed."""
    if call.sandboxed:
        return False
    return any(p is None or _sed_script_executes(p) for p in call.programs)


_SED_TO_EOL = frozenset("aicrwRW#")
_SED_TO_SEMI = frozenset("btT:qQlLv")
_SED_SIMPLE = frozenset("dDgGhHnNpPxzF=")


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
