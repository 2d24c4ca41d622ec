"""Parse a command with bashlex and collect every simple command the shell could start.

The walk is generic: it visits every child a bashlex node can hold (``parts``, ``list``,
``command``, ``output``, ``redirects``, ``heredoc``), so pipelines, lists, groups, subshells,
``if``/``for``/``while``/``until`` bodies, function bodies, command and process substitutions (in
words, double quotes, assignment values and redirect targets) are all reached. A node kind it does
not know is an error, never skipped: new syntax must fail closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import bashlex
import bashlex.errors

from secure_mcp.command_policy._embedded import UnparseableText, embedded_commands
from secure_mcp.command_policy.names import literal_word

MAX_DEPTH = 16

# Kinds that only structure the tree; their children are visited, they start nothing themselves.
_STRUCTURAL = frozenset(
    {
        "list",
        "pipeline",
        "compound",
        "if",
        "for",
        "while",
        "until",
        "commandsubstitution",
        "processsubstitution",
        "redirect",
        "assignment",
        "word",
    }
)
_LEAVES = frozenset({"reservedword", "operator", "pipe", "tilde"})
_CHILD_ATTRS = ("parts", "list", "command", "output", "redirects", "heredoc")


class Unparseable(Exception):
    """The command cannot be parsed; ``what`` names the construct, without echoing the input."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Word:
    """A word as written (``raw``) and its value after quote removal (``None`` if it expands)."""

    raw: str
    literal: str | None


@dataclass(frozen=True)
class SimpleCommand:
    """One simple command: its prefix assignments, its words, and the function it sits in."""

    assignments: tuple[Word, ...]
    words: tuple[Word, ...]
    function: str | None = None


@dataclass
class ParsedCommand:
    """Everything found in a command: its simple commands and the functions it defines."""

    commands: list[SimpleCommand] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)


def is_complete_command(text: str) -> bool:
    """Tell whether ``text`` parses as a whole command (used to find where a ``$(`` ends)."""
    try:
        bashlex.parse(text)
    except (bashlex.errors.ParsingError, NotImplementedError, IndexError, AttributeError, TypeError):
        return False
    return True


def parse_command(source: str, depth: int = 0) -> ParsedCommand:
    """Parse ``source`` and collect every simple command and function definition in it.

    Raises:
        Unparseable: bashlex rejects the syntax, or it nests deeper than ``MAX_DEPTH``.
    """
    parsed = ParsedCommand()
    _parse_into(source, parsed, depth, None)
    return parsed


_QUOTED_HEREDOC_DELIMITER = re.compile(r"(?<!<)(<<-?)[ \t]*(?:'(\w+)'|\"(\w+)\"|\\(\w+))")


def unquote_heredoc_delimiters(source: str) -> str:
    """``<<'EOF'`` becomes ``<<EOF`` for parsing only (bashlex 0.18 cannot parse quoted delimiters).

    A quoted delimiter makes the body literal; parsing it unquoted makes the body subject to
    substitutions, so the judge sees *more* possible programs, never fewer. The shell still gets
    the command exactly as sent.
    """
    return _QUOTED_HEREDOC_DELIMITER.sub(lambda m: m.group(1) + (m.group(2) or m.group(3) or m.group(4)), source)


def _parse_into(source: str, parsed: ParsedCommand, depth: int, function: str | None) -> None:
    if depth > MAX_DEPTH:
        raise Unparseable("command nests substitutions too deeply")
    source = unquote_heredoc_delimiters(source)
    try:
        trees = bashlex.parse(source)
    except bashlex.errors.ParsingError as exc:
        raise Unparseable(f"shell syntax error near position {exc.position}") from None
    except NotImplementedError as exc:
        raise Unparseable(f"construct not supported by the parser ({_construct(exc)})") from None
    walker = _Walker(source, parsed, depth)
    for tree in trees:
        walker.visit(tree, function)


def _construct(exc: NotImplementedError) -> str:
    """Name the unsupported construct from bashlex's message, without any of the user's text."""
    text = str(exc)
    if text.startswith("type = {"):
        return text[len("type = {") :].split("}", 1)[0]
    return text.split(",", 1)[0][:40]


class _Walker:
    def __init__(self, source: str, parsed: ParsedCommand, depth: int) -> None:
        self.source = source
        self.parsed = parsed
        self.depth = depth

    def word(self, node: Any) -> Word:
        raw = self.source[node.pos[0] : node.pos[1]]
        return Word(raw, literal_word(raw))

    def embedded(self, text: str, function: str | None) -> None:
        try:
            bodies = embedded_commands(text, is_complete_command)
        except UnparseableText as exc:
            raise Unparseable(str(exc)) from None
        for body in bodies:
            _parse_into(body, self.parsed, self.depth + 1, function)

    def visit(self, node: Any, function: str | None) -> None:
        kind = node.kind
        if kind == "command":
            self.command(node, function)
        elif kind == "function":
            name = self.word(node.name)
            self.parsed.functions.append(name.literal if name.literal is not None else name.raw)
            self.children(node.body, name.literal or name.raw)
            return
        elif kind == "heredoc":
            self.embedded(node.value, function)
        elif kind == "parameter":
            self.embedded(node.value, function)
        elif kind not in _STRUCTURAL and kind not in _LEAVES:
            raise Unparseable(f"unexpected parse node '{kind}'")
        self.children(node, function)

    def children(self, node: Any, function: str | None) -> None:
        for attr in _CHILD_ATTRS:
            value = getattr(node, attr, None)
            if isinstance(value, list):
                for child in value:
                    self.visit(child, function)
            elif value is not None and hasattr(value, "kind"):
                self.visit(value, function)

    def command(self, node: Any, function: str | None) -> None:
        assignments = tuple(self.word(p) for p in node.parts if p.kind == "assignment")
        words = tuple(self.word(p) for p in node.parts if p.kind == "word")
        self.parsed.commands.append(SimpleCommand(assignments, words, function))
