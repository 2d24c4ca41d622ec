"""Bounded, terminal-safe unified diff for the overwrite confirmation (and the append preview).

A human approves the write from this text, so it must be honest and safe to display:

* bounded in *time*: common leading and trailing lines are stripped first, and a middle too large
  for ``difflib`` is shown as one replaced block (still a correct diff, just not minimal);
* bounded in *size*: at most ``limit_chars`` characters, cut at a line and saying what was left out;
* control, bidirectional and invisible characters are shown as ``<U+XXXX>``, so content cannot
  move the cursor, recolour the terminal or reorder what the reviewer reads (Trojan Source);
* content that is not UTF-8 text is described (size and SHA-256), never dumped.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
from collections.abc import Iterator
from itertools import chain

from secure_mcp.workspace_fs._chars import visible

Opcode = tuple[str, int, int, int, int]
Item = tuple[str | None, str]  # (diff prefix, raw content line) or (None, an already safe line)
_CONTEXT = 3
# Above this (lines x lines) the changed middle is shown as one replaced block: still a correct
# diff, and the 4000-character prompt could not show a finer one anyway. Adversarial inputs at
# the bound (repeated and permuted lines) were measured at tens of milliseconds.
_MAX_MIDDLE_PRODUCT = 250_000
_MAX_LINE_CHARS = 500
_NOTE_RESERVE = 160


def _decode(data: bytes, cut: bool) -> str | None:
    if b"\x00" in data:
        return None
    try:
        # A head cut by the read limit may end inside a multi-byte sequence: drop that tail only.
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=not cut)
    except UnicodeDecodeError:
        return None


def _lines(text: str) -> list[str]:
    # str.splitlines would also split on \x1c-\x1e, \x85 and U+2028; diff and git split on "\n" only.
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


def _render(prefix: str, line: str) -> str:
    body = line[:-1] if line.endswith("\n") else line
    shown = "".join(visible(ch) for ch in body[:_MAX_LINE_CHARS])
    if len(body) > _MAX_LINE_CHARS:
        shown += f" …(+{len(body) - _MAX_LINE_CHARS} chars)"
    tail = "" if line.endswith("\n") else "\n\\ No newline at end of file"
    return f"{prefix}{shown}{tail}"


def _match(a: list[str], b: list[str]) -> list[Opcode]:
    # difflib's junk heuristic only looks at its second sequence and only from 200 items on; giving
    # it the longer side keeps repeated lines (blank lines, braces) from making it cubic.
    if len(a) <= len(b):
        return [(t, i1, i2, j1, j2) for t, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes()]
    swapped = difflib.SequenceMatcher(None, b, a).get_opcodes()
    flip = {"insert": "delete", "delete": "insert"}
    return [(flip.get(t, t), i1, i2, j1, j2) for t, j1, j2, i1, i2 in swapped]


def _opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    codes: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    if len(a_mid) * len(b_mid) <= _MAX_MIDDLE_PRODUCT:
        codes += [(t, i1 + head, i2 + head, j1 + head, j2 + head) for t, i1, i2, j1, j2 in _match(a_mid, b_mid)]
    else:
        codes.append(("replace", head, len(a) - tail, head, len(b) - tail))
    if tail:
        codes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return [code for code in codes if code[0] != "equal" or code[2] > code[1]]


def _groups(codes: list[Opcode]) -> Iterator[list[Opcode]]:
    # difflib.SequenceMatcher.get_grouped_opcodes, on opcodes we computed ourselves.
    if codes and codes[0][0] == "equal":
        t, i1, i2, j1, j2 = codes[0]
        codes[0] = (t, max(i1, i2 - _CONTEXT), i2, max(j1, j2 - _CONTEXT), j2)
    if codes and codes[-1][0] == "equal":
        t, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (t, i1, min(i2, i1 + _CONTEXT), j1, min(j2, j1 + _CONTEXT))
    group: list[Opcode] = []
    for t, i1, i2, j1, j2 in codes:
        if t == "equal" and i2 - i1 > 2 * _CONTEXT:
            group.append((t, i1, i1 + _CONTEXT, j1, j1 + _CONTEXT))
            yield group
            group = []
            i1, j1 = max(i1, i2 - _CONTEXT), max(j1, j2 - _CONTEXT)
        group.append((t, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def _diff_lines(a: list[str], b: list[str]) -> Iterator[Item]:
    for group in _groups(_opcodes(a, b)):
        first, last = group[0], group[-1]
        yield None, f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for t, i1, i2, j1, j2 in group:
            if t == "equal":
                yield from ((" ", line) for line in a[i1:i2])
                continue
            yield from (("-", line) for line in a[i1:i2])
            yield from (("+", line) for line in b[j1:j2])


def _safe(lines: list[str]) -> Iterator[Item]:
    return ((None, line) for line in lines)


def _bounded(items: Iterator[Item], limit_chars: int, total_hint: str) -> str:
    # Lines are rendered only once they are going to be shown: escaping is per character, and a
    # 1 MiB file must not cost a full pass when 4000 characters are displayed.
    budget = max(limit_chars, 2 * _NOTE_RESERVE) - _NOTE_RESERVE
    out: list[str] = []
    used = 0
    for prefix, raw in items:
        line = raw if prefix is None else _render(prefix, raw)
        if used + len(line) + 1 > budget:
            rest = 1 + sum(1 for _ in items)
            out.append(f"[diff truncated at {limit_chars} characters: {rest} more lines not shown; {total_hint}]")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _describe(old: bytes | None, new: bytes, path: str) -> str:
    def one(label: str, data: bytes) -> str:
        return f"{label}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"

    old_text = "old: (file does not exist)" if old is None else one("old", old)
    return f"{visible_path(path)}: binary or non-UTF-8 content, not shown\n{old_text}\n{one('new', new)}"


def visible_path(path: str) -> str:
    """``path`` with any unsafe character escaped, for headers of prompts."""
    return "".join(visible(ch) for ch in path)


def unified_diff(
    old: bytes | None, new: bytes, path: str, limit_chars: int = 4000, *, old_size: int | None = None
) -> str:
    """A unified diff of ``old`` → ``new`` for a confirmation prompt, at most ``limit_chars`` long.

    Args:
        old: the current content (``None``: the file does not exist), possibly only its head.
        new: the content to be written.
        path: the normalised relative path, for the headers.
        limit_chars: the output's size bound (values below 320 are raised to 320).
        old_size: the real size of the current file when ``old`` is only its head (from
            ``snapshot_existing``); the diff then says it compares the head only.
    """
    cut = old is not None and old_size is not None and old_size > len(old)
    old_text = "" if old is None else _decode(old, cut)
    new_text = _decode(new, False)
    if old_text is None or new_text is None:
        return _describe(old, new, path)
    if old is not None and old_text == new_text and not cut:
        return f"{visible_path(path)}: no change (the new content is identical to the current file)"
    shown = visible_path(path)
    header = ["--- /dev/null" if old is None else f"--- a/{shown}", f"+++ b/{shown}"]
    if cut:
        header.insert(0, f"[the current file is {old_size} bytes; only its first {len(old or b'')} bytes are compared]")
    hint = f"old {0 if old is None else old_size or len(old)} bytes, new {len(new)} bytes"
    lines = _diff_lines(_lines(old_text), _lines(new_text))
    return _bounded(chain(_safe(header), lines), limit_chars, hint)


def append_preview(data: bytes, path: str, limit_chars: int = 4000) -> str:
    """The text to be appended, for the append confirmation, bounded and terminal-safe."""
    text = _decode(data, False)
    if text is None:
        return _describe(None, data, path).replace("old: (file does not exist)\n", "")
    lines: Iterator[Item] = (("+", line) for line in _lines(text))
    header = f"append {len(data)} bytes to {visible_path(path)}:"
    return _bounded(chain(_safe([header]), lines), limit_chars, f"{len(data)} bytes appended")
