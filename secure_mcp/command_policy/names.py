"""Program-name normalisation: what name a word in command position really runs.

The shell removes quotes and backslashes before it looks a name up, so ``r''m``, ``"rm"``, ``\\rm``
and ``$'\\x72m'`` all run ``rm``. We redo that quote removal on the word's source text ourselves
(from the source text of each word the parser found) and give up (``None``) as soon as the word holds
anything the shell would expand at run time: parameters, substitutions, globs, braces, tildes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Directories a sandbox PATH lookup resolves to; an allowed name anywhere else may be a planted binary.
SYSTEM_BIN_DIRS = frozenset({"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin"})

_ANSI_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ANSI_NUMERIC = re.compile(r"x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}")
_BRACE_EXPANSION = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")
_DQ_ESCAPABLE = frozenset('$`"\\\n')


@dataclass(frozen=True)
class ProgramName:
    """A program word after normalisation.

    Attributes:
        name: the basename the policy lists are matched against.
        literal: the whole word after quote removal (``/tmp/x/ls``).
        is_system_path: true for a bare name (PATH lookup) or a path in a system bin directory.
    """

    name: str
    literal: str
    is_system_path: bool


def _ansi_c(raw: str, start: int) -> tuple[str, int]:
    """Decode a ``$'...'`` body starting at ``start``; return the text and the index after the quote."""
    out: list[str] = []
    i = start
    while i < len(raw):
        char = raw[i]
        if char == "'":
            return "".join(out), i + 1
        if char == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in _ANSI_SIMPLE:
                out.append(_ANSI_SIMPLE[nxt])
                i += 2
                continue
            match = _ANSI_NUMERIC.match(raw, i + 1)
            if match:
                digits = match.group()
                value = int(digits, 8) if digits[0] in "01234567" else int(digits[1:], 16)
                out.append(chr(value))
                i = match.end()
                continue
            out.append(char)
            i += 1
            continue
        out.append(char)
        i += 1
    raise ValueError("unterminated $'...'")


def _double_quoted(raw: str, start: int) -> tuple[str | None, int]:
    """Remove quoting from a ``"..."`` body; ``None`` text if it expands anything."""
    out: list[str] = []
    i = start
    while i < len(raw):
        char = raw[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\" and i + 1 < len(raw) and raw[i + 1] in _DQ_ESCAPABLE:
            if raw[i + 1] != "\n":
                out.append(raw[i + 1])
            i += 2
            continue
        if char in "$`":
            return None, i
        out.append(char)
        i += 1
    raise ValueError('unterminated "..."')


def literal_word(raw: str) -> str | None:
    """Return the value the shell gives the word ``raw``, or ``None`` if only run time can tell.

    Args:
        raw: the word exactly as written in the command.

    Returns:
        The word after quote and backslash removal, or ``None`` when it holds an expansion,
        substitution, glob, brace expansion or tilde, or is malformed.
    """
    if raw.startswith("~"):
        return None
    out: list[str] = []
    skeleton: list[str] = []  # the unquoted characters; quoted ones as "_" (braces expand only unquoted)
    i = 0
    try:
        while i < len(raw):
            char = raw[i]
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            start = i
            if char == "\\":
                if nxt != "\n":
                    out.append(nxt)
                i += 2
            elif char == "'":
                end = raw.index("'", i + 1)
                out.append(raw[i + 1 : end])
                i = end + 1
            elif char == "$" and nxt == "'":
                text, i = _ansi_c(raw, i + 2)
                out.append(text)
            elif char == '"' or (char == "$" and nxt == '"'):
                dq, i = _double_quoted(raw, i + (2 if char == "$" else 1))
                if dq is None:
                    return None
                out.append(dq)
            elif char in "$`*?()<>|;&" or (char == "[" and "]" in raw[i + 1 :]):
                return None
            else:
                out.append(char)
                skeleton.append(char)
                i += 1
                continue
            skeleton.append("_" * (i - start))
        if _BRACE_EXPANSION.search("".join(skeleton)):
            return None
    except ValueError:
        return None
    return "".join(out)


def program_name(literal: str) -> ProgramName:
    """Normalise a literal program word to the name the policy lists are matched against.

    A bare name is found through PATH, which in the sandbox holds only system directories. A name
    with a ``/`` is matched by its basename, but only counts as a system program when its directory
    is exactly one of ``SYSTEM_BIN_DIRS``: ``./ls`` or ``/workspace/bin/ls`` may be anything.
    """
    if "/" not in literal:
        return ProgramName(literal, literal, True)
    directory, _, base = literal.rpartition("/")
    return ProgramName(base, literal, directory in SYSTEM_BIN_DIRS)
