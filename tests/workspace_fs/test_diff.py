"""The confirmation diff: correct, bounded in size and time, and safe to display."""

from __future__ import annotations

import difflib
import time

import pytest

from secure_mcp.workspace_fs import append_preview, unified_diff


def _reference(old: str, new: str, path: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}", lineterm=""
    )
    return "\n".join(line.rstrip("\n") for line in lines)


def test_diff_matches_difflib_for_ordinary_edits() -> None:
    """For a small text edit the output is the standard unified diff."""
    old = "".join(f"line {i}\n" for i in range(30))
    new = old.replace("line 5\n", "line five\n").replace("line 20\n", "")
    assert unified_diff(old.encode(), new.encode(), "a.txt") == _reference(old, new, "a.txt")


def test_diff_of_new_file_is_from_dev_null() -> None:
    """A file that does not exist yet is shown as added from /dev/null."""
    out = unified_diff(None, b"a\nb\n", "n.txt")
    assert out.splitlines() == ["--- /dev/null", "+++ b/n.txt", "@@ -0,0 +1,2 @@", "+a", "+b"]


def test_diff_marks_missing_final_newline() -> None:
    """A missing newline at the end is shown, as diff does."""
    assert "\\ No newline at end of file" in unified_diff(b"a\n", b"a\nb", "x")


def test_identical_content_says_no_change() -> None:
    """Overwriting with the same bytes is reported as no change, not an empty diff."""
    assert "no change" in unified_diff(b"same\n", b"same\n", "x")


def test_diff_is_bounded_and_says_it_was_truncated() -> None:
    """A huge change never exceeds limit_chars and tells the reviewer what was left out."""
    new = "".join(f"new line {i}\n" for i in range(50_000)).encode()
    out = unified_diff(b"old\n", new, "big.txt", limit_chars=1000)
    assert len(out) <= 1000
    assert "[diff truncated" in out.splitlines()[-1]


def test_diff_of_large_files_is_fast() -> None:
    """Two 1 MiB files with scattered changes are diffed in well under a second."""
    old_lines = [f"row {i} value {i * 7}\n" for i in range(40_000)]
    new_lines = [line if i % 97 else "changed\n" for i, line in enumerate(old_lines)]
    started = time.perf_counter()
    out = unified_diff("".join(old_lines).encode(), "".join(new_lines).encode(), "big.csv")
    assert time.perf_counter() - started < 1.0
    assert len(out) <= 4000 and out.startswith("--- a/big.csv")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["a\n"] * 2000, ["a\n", "b\n"] * 1000),
        (["a\n"] * 3800, ["a\n", "b\n"] * 99),
        ([f"{i % 3}\n" for i in range(2000)], [f"{i % 5}\n" for i in range(2000)]),
        ([f"{i % 100}\n" for i in range(1000)], [f"{(i * 3) % 100}\n" for i in range(400)]),
        ([f"{i}\n" for i in range(500)], [f"{(i * 3) % 500}\n" for i in range(500)]),
    ],
    ids=["repeated", "repeated-vs-short", "few-distinct", "permuted-mod-100", "permuted-distinct"],
)
def test_adversarial_inputs_are_diffed_quickly(old: list[str], new: list[str]) -> None:
    """Inputs that make plain difflib cubic (repeated, permuted lines) still finish quickly."""
    started = time.perf_counter()
    out = unified_diff("".join(old).encode(), "".join(new).encode(), "x")
    assert time.perf_counter() - started < 1.0
    assert len(out) <= 4000


def test_control_and_bidi_characters_are_made_visible() -> None:
    """Escape sequences and bidi overrides in content cannot act on the reviewer's terminal."""
    new = "ok\n\x1b[2J\x1b[1;1Hall clear\naccess = \u202e'nimda' == user\u2066\n".encode()
    out = unified_diff(b"ok\n", new, "x.py")
    assert "\x1b" not in out and "\u202e" not in out and "\u2066" not in out
    assert "<U+001B>" in out and "<U+202E>" in out


def test_binary_content_is_described_not_dumped() -> None:
    """Non-UTF-8 or NUL-holding content is summarised by size and hash."""
    out = unified_diff(b"\x00\x01\x02", b"\xff\xfe", "blob.bin")
    assert "binary" in out and "\xff" not in out and "3 bytes" in out and "2 bytes" in out


def test_diff_against_truncated_old_content_says_so() -> None:
    """When only the head of the current file was read, the diff states it."""
    out = unified_diff("é".encode() * 10 + b"\xc3", b"new\n", "x", old_size=5000)
    assert out.startswith("[the current file is 5000 bytes")


def test_only_newline_separates_lines() -> None:
    """Other characters str.splitlines treats as breaks stay inside the line, escaped."""
    out = unified_diff(b"a\n", "a\nb\x1cc\u2028d\n".encode(), "x")
    assert out.splitlines()[-1] == "+b<U+001C>c<U+2028>d"


def test_long_lines_are_shortened() -> None:
    """One enormous line does not crowd out every other line of the diff."""
    out = unified_diff(b"a\n", b"x" * 100_000 + b"\nb\n", "x", limit_chars=4000)
    assert "+b" in out.splitlines()


def test_append_preview_shows_appended_text_bounded() -> None:
    """The append confirmation shows the appended lines, escaped and bounded."""
    out = append_preview(b"one\n\x1b[31mtwo\n", "log.txt")
    assert out.splitlines() == ["append 13 bytes to log.txt:", "+one", "+<U+001B>[31mtwo"]
    assert len(append_preview(b"x\n" * 100_000, "log.txt", limit_chars=500)) <= 500
    assert "binary" in append_preview(b"\x00", "b")
