"""Parse a command with tree-sitter-bash and collect every simple command bash could start.

The sandbox runs the command with bash, so the policy reads it with a bash grammar. tree-sitter is
error-tolerant (it always yields a tree), so every tree is checked: a tree with an ERROR or MISSING
node is refused, naming where. The walk is an explicit allowlist of node types: a type it does not
know is refused too, so grammar changes fail closed instead of hiding a command.

Where tree-sitter-bash is known to read bash differently we do not trust it:

- here-document bodies: it misses backticks and substitutions after ``<<-`` tabs, and it parses
  bodies whose delimiter is quoted (literal text to bash). We check the body's boundaries against
  bash's rule (it ends at the first line equal to the delimiter) and scan unquoted bodies ourselves
  (``heredoc.py``); quoted bodies are inert.
- words after a redirect target (``echo &>/tmp/o rm -v victim``): tree-sitter files them as more
  redirect targets; bash makes them arguments of the command. We give them back to the command.
- ``${x:-'$(id)'}`` inside double quotes: tree-sitter sees a quoted string, bash runs ``id``. The
  text of every ``${...}`` is scanned for substitutions as well (stricter, never milder).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from secure_mcp.command_policy.heredoc import (
    Body,
    UnparseableText,
    blank_bodies,
    check_bodies,
    embedded_substitutions,
    rescue_quoted_delimiters,
)
from secure_mcp.command_policy.names import literal_word

MAX_DEPTH = 16
BASH = Language(tree_sitter_bash.language())

# Node types that only structure the tree: their named children are walked, they start nothing.
_STRUCTURAL = frozenset(
    {
        "program",
        "command_name",
        "list",
        "pipeline",
        "subshell",
        "compound_statement",
        "if_statement",
        "elif_clause",
        "else_clause",
        "while_statement",
        "for_statement",
        "c_style_for_statement",
        "do_group",
        "case_statement",
        "case_item",
        "negated_command",
        "test_command",
        "binary_expression",
        "unary_expression",
        "ternary_expression",
        "postfix_expression",
        "parenthesized_expression",
        "arithmetic_expansion",
        "command_substitution",
        "process_substitution",
        "string",
        "translated_string",
        "concatenation",
        "array",
        "subscript",
        "simple_expansion",
        "brace_expression",
        "file_redirect",
        "herestring_redirect",
    }
)
# Node types with no command inside them.
_LEAVES = frozenset(
    {
        "word",
        "number",
        "raw_string",
        "ansi_c_string",
        "string_content",
        "variable_name",
        "special_variable_name",
        "file_descriptor",
        "test_operator",
        "regex",
        "extglob_pattern",
        "comment",
    }
)
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})


class Unparseable(Exception):
    """The command cannot be parsed; ``what`` names the construct and where, without the input."""

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


def where(node: Node) -> str:
    """``line:col`` (1-based; the column counts bytes) of a node, for refusal messages."""
    row, col = node.start_point
    return f"{row + 1}:{col + 1}"


@dataclass(frozen=True)
class Tree:
    """A checked parse: the root, the bytes tree-sitter read (here-document bodies blanked,
    quoted delimiters respelled), the command as sent, and each here-document as bash reads it."""

    root: Node
    data: bytes
    original: bytes
    bodies: tuple[Body, ...]


def parse_tree(original: bytes) -> Tree:
    """Parse ``original`` the way bash reads it, or refuse.

    Raises:
        Unparseable: an ERROR or MISSING node (named with its line:col), or a here-document the
            parser reads differently from bash.
    """
    data = original
    root = _parse(data)
    if root.has_error:
        rescued = rescue_quoted_delimiters(data)
        if rescued is not None:
            rescued_root = _parse(rescued.data)
            if rescued.confirmed_by(rescued_root):
                data, root = rescued.data, rescued_root
    bodies: tuple[Body, ...] = ()
    try:
        blanked = blank_bodies(root, data)
        if blanked is not None:
            data, bodies = blanked
            root = _parse(data)
        _refuse_errors(root, data)
        joined = join_continuations(root, data)
        if joined is not None:
            data = joined
            root = _parse(data)
            _refuse_errors(root, data)
        if bodies:
            check_bodies(root, data, bodies)
    except UnparseableText as exc:
        raise Unparseable(str(exc)) from None
    return Tree(root, data, original, bodies)


def _parse(data: bytes) -> Node:
    return Parser(BASH).parse(data).root_node


def _refuse_errors(root: Node, data: bytes) -> None:
    bad = _first_error(root, data) if root.has_error else None
    if bad is not None:
        kind = f"missing '{bad.type}'" if bad.is_missing else "syntax error"
        raise Unparseable(f"{kind} at {where(bad)}")


_INERT_LEAVES = frozenset({"raw_string", "ansi_c_string", "string", "translated_string", "comment", "heredoc_body"})
_BLANKS = frozenset(b" \t\n")


def join_continuations(root: Node, data: bytes) -> bytes | None:
    """Respell a backslash-newline inside a word as ``''`` (same length); ``None`` if there is none.

    bash removes ``\\<newline>`` before it splits words, so ``cu\\<newline>rl`` runs ``curl``;
    tree-sitter reads it as a blank between ``cu`` and ``rl``. Where both neighbours are not blanks
    and the pair is outside quotes, comments and here-document bodies, ``''`` joins the two halves
    the way bash does, keeping every position. Anything this turns into a syntax error is refused.
    """
    out: bytearray | None = None
    start = data.find(b"\\\n")
    while start >= 0:
        escaped = (start - len(data[:start].rstrip(b"\\"))) % 2 == 1
        joins = (
            start > 0
            and data[start - 1] not in _BLANKS
            and data[start + 2 : start + 3] not in (b"", b" ", b"\t", b"\n")
        )
        if not escaped and joins and not _inside(root, start, _INERT_LEAVES):
            out = out if out is not None else bytearray(data)
            out[start : start + 2] = b"''"
        start = data.find(b"\\\n", start + 2)
    return None if out is None else bytes(out)


def _inside(root: Node, index: int, kinds: frozenset[str]) -> bool:
    node: Node | None = root.descendant_for_byte_range(index, index + 1)
    while node is not None:
        if node.type in kinds:
            return True
        node = node.parent
    return False


def _first_error(node: Node, data: bytes) -> Node | None:
    """The first ERROR or MISSING node, skipping the ``;`` tree-sitter invents after a here-document.

    After a here-document whose end line includes its newline, tree-sitter inserts a MISSING ``;``
    before the next command; bash reads that newline as the separator, so nothing is missing.
    """
    if not node.has_error and not node.is_missing:
        return None
    if node.is_error:
        return node
    if node.is_missing:
        start = node.start_byte
        if node.type == ";" and start > 0 and data[start - 1 : start] == b"\n" and _ends_heredoc(node):
            return None
        return node
    for child in node.children:
        bad = _first_error(child, data)
        if bad is not None:
            return bad
    return None


def _ends_heredoc(missing: Node) -> bool:
    prev = missing.prev_sibling
    while prev is not None and prev.child_count:
        prev = prev.children[-1]
    return prev is not None and prev.type == "heredoc_end" and prev.end_byte == missing.start_byte


def parse_command(source: str, depth: int = 0) -> ParsedCommand:
    """Parse ``source`` and collect every simple command and function definition in it.

    Raises:
        Unparseable: a syntax error, an unknown node type, or nesting deeper than ``MAX_DEPTH``.
    """
    parsed = ParsedCommand()
    _parse_into(source, parsed, depth, None)
    return parsed


def _parse_into(source: str, parsed: ParsedCommand, depth: int, function: str | None) -> None:
    if depth > MAX_DEPTH:
        raise Unparseable("command nests substitutions too deeply")
    tree = parse_tree(source.encode("utf-8", "surrogatepass"))
    _Walker(tree, parsed, depth).visit(tree.root, function)


class _Walker:
    def __init__(self, tree: Tree, parsed: ParsedCommand, depth: int) -> None:
        self.data = tree.data
        self.tree = tree
        self.parsed = parsed
        self.depth = depth

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "surrogatepass")

    def word(self, node: Node) -> Word:
        raw = self.text(node)
        return Word(raw, literal_word(raw))

    def embedded(self, text: str, function: str | None, node: Node) -> None:
        """Judge the substitutions found in text tree-sitter does not parse the way bash does."""
        try:
            bodies = embedded_substitutions(text)
        except UnparseableText as exc:
            raise Unparseable(f"{exc} at {where(node)}") from None
        for body in bodies:
            _parse_into(body, self.parsed, self.depth + 1, function)

    def visit(self, node: Node, function: str | None) -> None:
        kind = node.type
        if not node.is_named:
            return
        if kind == "command":
            self.command(node, (), function)
        elif kind == "redirected_statement":
            self.redirected(node, function)
        elif kind == "function_definition":
            self.function_definition(node)
        elif kind in ("declaration_command", "unset_command"):
            self.declaration(node, function)
        elif kind in ("variable_assignment", "variable_assignments"):
            self.assignments(node, function)
        elif kind == "heredoc_redirect":
            self.heredoc(node, function)
        elif kind == "expansion":
            self.embedded(self.text(node), function, node)
            self.children(node, function)
        elif kind in _STRUCTURAL:
            self.children(node, function)
        elif kind == "word":
            self.check_word(node)
        elif kind not in _LEAVES:
            raise Unparseable(f"construct '{kind}' is not understood by the policy at {where(node)}")

    def check_word(self, node: Node) -> None:
        """Refuse a word holding an unescaped blank: tree-sitter misplaced a word boundary there.

        (Seen: ``ls<newline>\\fdisk`` read as ``ls`` with the argument ``<newline>\\fdisk``.)
        """
        raw = self.data[node.start_byte : node.end_byte]
        i = 0
        while i < len(raw):
            if raw[i] == 0x5C:
                i += 2
                continue
            if raw[i] in (0x20, 0x09, 0x0A):
                raise Unparseable(f"a word boundary the parser may misread at {where(node)}")
            i += 1

    def children(self, node: Node, function: str | None) -> None:
        for child in node.named_children:
            self.visit(child, function)

    def function_definition(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            raise Unparseable(f"function definition without a name or body at {where(node)}")
        name = self.word(name_node)
        label = name.literal if name.literal is not None else name.raw
        self.parsed.functions.append(label)
        for child in node.named_children:
            if child.id != name_node.id:
                self.visit(child, label)

    def assignments(self, node: Node, function: str | None) -> None:
        """A statement made only of assignments (``PATH=/tmp``): it starts nothing but may matter."""
        parts = [node] if node.type == "variable_assignment" else list(node.named_children)
        self.parsed.commands.append(SimpleCommand(tuple(Word(self.text(p), None) for p in parts), (), function))
        self.children(node, function)

    def declaration(self, node: Node, function: str | None) -> None:
        """``export``/``declare``/``local``/``readonly``/``typeset``/``unset`` and their arguments.

        An assignment argument is given as the literal ``NAME=`` (its value's substitutions are
        walked on their own); other arguments keep their literal value or ``None`` if they expand.
        """
        keyword = node.children[0]
        words = [Word(self.text(keyword), self.text(keyword))]
        for child in node.named_children:
            if child.type == "variable_assignment":
                name = child.child_by_field_name("name")
                label = self.text(name) if name is not None else self.text(child)
                words.append(Word(self.text(child), f"{label}="))
            else:
                words.append(self.word(child))
        self.parsed.commands.append(SimpleCommand((), tuple(words), function))
        self.children(node, function)

    def redirected(self, node: Node, function: str | None) -> None:
        """A statement with redirects; words filed under a redirect are arguments of the command."""
        body = node.child_by_field_name("body")
        redirects = [c for c in node.named_children if body is None or c.id != body.id]
        extra = [w for r in redirects for w in self.redirect_arguments(r)]
        if body is not None and body.type == "command":
            self.command(body, tuple(extra), function)
        elif extra:
            raise Unparseable(f"words after a redirect of a compound command at {where(extra[0])}")
        elif body is not None:
            self.visit(body, function)
        for redirect in redirects:
            self.visit(redirect, function)

    def redirect_arguments(self, redirect: Node) -> list[Node]:
        """Words tree-sitter put under a redirect that bash gives to the command as arguments."""
        if redirect.type == "file_redirect":
            return redirect.children_by_field_name("destination")[1:]
        if redirect.type == "heredoc_redirect":
            return redirect.children_by_field_name("argument")
        return []

    def command(self, node: Node, extra: tuple[Node, ...], function: str | None) -> None:
        assignments: list[Word] = []
        word_nodes: list[Node] = list(extra)
        for index, child in enumerate(node.children):
            if not child.is_named:
                continue
            field_name = node.field_name_for_child(index)
            if child.type == "variable_assignment":
                assignments.append(Word(self.text(child), None))
            elif child.type in _REDIRECTS:
                word_nodes.extend(self.redirect_arguments(child))
            elif field_name in ("name", "argument"):
                word_nodes.append(child)
            elif child.type != "comment":
                raise Unparseable(f"construct '{child.type}' in a command is not understood at {where(child)}")
        words = tuple(self.joined_words(sorted(word_nodes, key=lambda n: n.start_byte)))
        self.parsed.commands.append(SimpleCommand(tuple(assignments), words, function))
        for child in node.named_children:
            if child.type == "variable_assignment":
                self.children(child, function)  # a prefix assignment: only its value's substitutions
            else:
                self.visit(child, function)
        for extra_node in extra:
            self.visit(extra_node, function)

    def joined_words(self, nodes: list[Node]) -> list[Word]:
        """One word per run of touching nodes: bash joins ``cu'r'\\l`` into ``curl`` where
        tree-sitter may split it after the quote."""
        spans: list[list[int]] = []
        for node in nodes:
            if spans and spans[-1][1] == node.start_byte:
                spans[-1][1] = node.end_byte
            else:
                spans.append([node.start_byte, node.end_byte])
        words = []
        for start, end in spans:
            raw = self.data[start:end].decode("utf-8", "surrogatepass")
            words.append(Word(raw, literal_word(raw)))
        return words

    def heredoc(self, node: Node, function: str | None) -> None:
        """Scan the original text of an unquoted body; a quoted body is inert text."""
        start = next((c for c in node.named_children if c.type == "heredoc_start"), None)
        body = next(
            (b for b in self.tree.bodies if start is not None and b.start == (start.start_byte, start.end_byte)), None
        )
        if body is None:
            raise Unparseable(f"here-document not read as bash reads it at {where(node)}")
        if not body.quoted:
            text = self.tree.original[body.body[0] : body.body[1]].decode("utf-8", "surrogatepass")
            self.embedded(text, function, node)
        for child in node.named_children:
            if child.type not in ("heredoc_start", "heredoc_body", "heredoc_end"):
                self.visit(child, function)
