"""Here-documents and substitutions hidden in text, read by bash's rules rather than tree-sitter's.

tree-sitter-bash gets here-documents partly wrong (it misses backticks in bodies, misses ``$(...)``
after the tabs of ``<<-``, parses bodies whose delimiter is quoted, and fails on ``<<""EOF``). So:

- ``check_heredoc`` verifies the body tree-sitter found ends where bash ends it (the first line
  equal to the delimiter after quote removal, leading tabs stripped for ``<<-``) and returns the
  body's text only when the delimiter is unquoted: a quoted delimiter makes the body inert text.
- ``embedded_substitutions`` finds every ``$(...)``, ``$((...))`` and backtick substitution in such
  a body (or in ``${...}`` text) the way bash's here-document reader does: a backslash escapes the
  next character, quotes are plain characters. The end of a ``$(`` is the shortest candidate that
  tree-sitter parses cleanly as one substitution, as bash's own reader decides it.
- ``rescue_quoted_delimiters`` rewrites delimiter words tree-sitter cannot read (``""EOF``,
  ``E''OF``) to a same-length spelling it can (``'EOF'``), with the same value and quotedness. It is
  only tried on a tree that already failed, and only kept if every rewritten word parses as a
  here-document delimiter, so it can rescue a command but never change how a clean one is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

MAX_PARSE_ATTEMPTS = 256
_BASH = Language(tree_sitter_bash.language())
_WORD_END = frozenset(b" \t\n;&|<>()")
_QUOTED_DELIMITER = re.compile(rb"(?<!<)<<-?[ \t]*((?:[^\s;&|<>()'\"\\]|'[^'\n]*'|\"[^\"\\\n$`]*\"|\\.)+)")


class UnparseableText(Exception):
    """A here-document or substitution whose extent cannot be found the way bash finds it."""


def delimiter_of(raw: str) -> tuple[str, bool]:
    """The delimiter bash compares lines with (quotes removed), and whether it was quoted."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            quoted = True
            i += 2
        elif char in "'\"":
            end = raw.find(char, i + 1)
            if end < 0:
                raise UnparseableText("here-document delimiter with an open quote")
            out.append(raw[i + 1 : end])
            quoted = True
            i = end + 1
        elif char in "$`":
            raise UnparseableText("here-document delimiter with an expansion")
        else:
            out.append(char)
            i += 1
    return "".join(out), quoted


@dataclass(frozen=True)
class Body:
    """One here-document as bash reads it: where its body and its end line are, and whether it expands."""

    start: tuple[int, int]
    body: tuple[int, int]
    end_line: int
    quoted: bool


def _nodes(root: Node, kind: str) -> list[Node]:
    found: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == kind:
            found.append(node)
        stack.extend(reversed(node.children))
    return sorted(found, key=lambda n: n.start_byte)


def blank_bodies(root: Node, data: bytes) -> tuple[bytes, tuple[Body, ...]] | None:
    """Find every here-document body by bash's rules and blank it (same length, newlines kept).

    tree-sitter then never reads body text (where it errs); the walker scans the original text of
    unquoted bodies itself. ``None`` when the command has no here-document.

    Raises:
        UnparseableText: a delimiter we cannot read, or a body without its end line.
    """
    bodies: list[Body] = []
    out = bytearray(data)
    cursor = 0
    for start in _nodes(root, "heredoc_start"):
        if any(b.body[0] <= start.start_byte < b.end_line for b in bodies):
            continue  # text inside an earlier body
        try:
            body, cursor = _one_body(start, data, out, cursor)
        except UnparseableText as exc:
            row, col = start.start_point
            raise UnparseableText(f"{exc} at {row + 1}:{col + 1}") from None
        bodies.append(body)
    if not bodies:
        return None
    return bytes(out), tuple(bodies)


def _one_body(start: Node, data: bytes, out: bytearray, cursor: int) -> tuple[Body, int]:
    """Find, check and blank one here-document's body; return it and where the next body may start."""
    operator = start.prev_sibling
    if operator is None or operator.type not in ("<<", "<<-"):
        raise UnparseableText("here-document without its << operator")
    if start.end_byte < len(data) and data[start.end_byte] not in _WORD_END:
        raise UnparseableText("here-document delimiter is not one whole word")
    delimiter, quoted = delimiter_of(data[start.start_byte : start.end_byte].decode("utf-8", "surrogatepass"))
    if not delimiter or any(c in delimiter for c in " \t\n"):
        raise UnparseableText("here-document delimiter we cannot read")
    line_end = data.find(b"\n", start.end_byte)
    if line_end < 0:
        raise UnparseableText("here-document without a body or an end line")
    body_start = max(line_end + 1, cursor)
    pos = body_start
    strip = operator.type == "<<-"
    while True:
        newline = data.find(b"\n", pos)
        line = data[pos : len(data) if newline < 0 else newline].decode("utf-8", "surrogatepass")
        if _line_value(line, strip) == delimiter:
            break
        if newline < 0:
            raise UnparseableText("here-document without its end line")
        pos = newline + 1
    for index in range(body_start, pos):
        if out[index] != 0x0A:
            out[index] = 0x20
    next_line = data.find(b"\n", pos)
    return Body((start.start_byte, start.end_byte), (body_start, pos), pos, quoted), (
        len(data) if next_line < 0 else next_line + 1
    )


def check_bodies(root: Node, data: bytes, bodies: tuple[Body, ...]) -> None:
    """Verify tree-sitter put each here-document's end where bash does, on the blanked source.

    Raises:
        UnparseableText: a delimiter or an end line in another place than bash's.
    """
    by_start = {b.start: b for b in bodies}
    starts = _nodes(root, "heredoc_start")
    if {(n.start_byte, n.end_byte) for n in starts} != set(by_start):
        raise UnparseableText("here-documents the parser reads differently from bash")
    for start in starts:
        body = by_start[(start.start_byte, start.end_byte)]
        parent = start.parent
        end = next((c for c in parent.named_children if c.type == "heredoc_end"), None) if parent else None
        if end is None:
            raise UnparseableText("here-document without its end line")
        line_start = data.rfind(b"\n", 0, end.start_byte) + 1
        if line_start != body.end_line:
            raise UnparseableText("here-document that the parser ends elsewhere than bash")


def _line_value(line: str, strip_tabs: bool) -> str:
    return line.lstrip("\t") if strip_tabs else line


def embedded_substitutions(text: str) -> list[str]:
    """Return each substitution in ``text`` as a command to judge (``X=$(...)`` or a backtick body).

    Raises:
        UnparseableText: an unterminated substitution or one too complex to delimit.
    """
    found: list[str] = []
    attempts = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
        elif text.startswith("$(", i):
            end, attempts = _substitution_end(text, i, attempts)
            found.append("X=" + text[i:end])
            i = end
        elif char == "`":
            end = i + 1
            while end < len(text) and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise UnparseableText("unterminated backtick substitution")
            body = re.sub(r"\\([\\`$])", r"\1", text[i + 1 : end])
            if body.strip():
                found.append(body)
            i = end + 1
        else:
            i += 1
    return found


def _substitution_end(text: str, start: int, attempts: int) -> tuple[int, int]:
    """Index after the ``)`` closing the ``$(`` at ``start``: the first candidate that parses whole."""
    close = text.find(")", start + 2)
    while close >= 0:
        attempts += 1
        if attempts > MAX_PARSE_ATTEMPTS:
            raise UnparseableText("substitution too complex to delimit")
        if _is_one_substitution(text[start : close + 1]):
            return close + 1, attempts
        close = text.find(")", close + 1)
    raise UnparseableText("unterminated $(...) substitution")


def _is_one_substitution(candidate: str) -> bool:
    data = ("X=" + candidate).encode("utf-8", "surrogatepass")
    root = Parser(_BASH).parse(data).root_node
    if root.has_error or root.named_child_count != 1:
        return False
    assignment = root.named_children[0]
    value = assignment.child_by_field_name("value")
    return (
        assignment.type == "variable_assignment"
        and value is not None
        and value.type in ("command_substitution", "arithmetic_expansion")
        and value.start_byte == 2
        and value.end_byte == len(data)
    )


@dataclass(frozen=True)
class Rescued:
    """Source with quoted delimiters respelled, and where each respelled delimiter starts and ends."""

    data: bytes
    spans: tuple[tuple[int, int], ...]

    def confirmed_by(self, root: Node) -> bool:
        """Tell whether every respelled word is a here-document delimiter in the new tree."""
        starts: set[tuple[int, int]] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type == "heredoc_start":
                starts.add((node.start_byte, node.end_byte))
            stack.extend(node.children)
        return all(span in starts for span in self.spans)


def rescue_quoted_delimiters(data: bytes) -> Rescued | None:
    """Respell quoted here-document delimiters tree-sitter misreads; ``None`` if there are none."""
    out = bytearray(data)
    spans: list[tuple[int, int]] = []
    for match in _QUOTED_DELIMITER.finditer(data):
        word = match.group(1)
        if not any(q in word for q in b"'\"\\"):
            continue
        try:
            delimiter, _ = delimiter_of(word.decode("utf-8", "surrogatepass"))
        except (UnparseableText, UnicodeDecodeError):
            continue
        plain = delimiter.encode("utf-8", "surrogatepass")
        spare = len(word) - len(plain)
        if not plain or b"'" in plain or spare < 1 or any(b in _WORD_END for b in plain):
            continue
        spelled = b"\\" + plain if spare == 1 else b"'" + plain + b"'" + b" " * (spare - 2)
        begin = match.start(1)
        out[begin : match.end(1)] = spelled
        spans.append((begin, begin + len(spelled.rstrip(b" "))))
    if not spans:
        return None
    return Rescued(bytes(out), tuple(spans))
