"""The tamper matrix: every kind of edit makes verify exit 1 and name the first bad line."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from secure_mcp.audit import verify_command, verify_log
from secure_mcp.audit.canonical import canonical_bytes
from secure_mcp.audit.chain import head_mac, record_hash
from secure_mcp.audit.files import head_path

KEY = b"test-audit-key-0123456789abcdef"  # the same key conftest.fill uses


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _edit_field(lines: list[bytes]) -> list[bytes]:
    record = json.loads(lines[2])
    record["tool"] = "write_file"
    lines[2] = canonical_bytes(record) + b"\n"
    return lines


def _edit_raw_bytes(lines: list[bytes]) -> list[bytes]:
    lines[2] = lines[2].replace(b'"n":2', b'"n":7')
    return lines


def _delete(lines: list[bytes]) -> list[bytes]:
    del lines[2]
    return lines


def _insert_copy(lines: list[bytes]) -> list[bytes]:
    lines.insert(4, lines[1])
    return lines


def _insert_forged(lines: list[bytes]) -> list[bytes]:
    previous = json.loads(lines[1])
    forged = {"event": "note", "n": 99, "seq": 3, "ts": previous["ts"], "prev": previous["hash"]}
    forged["hash"] = record_hash(b"attacker-guessed-key-000000", forged)
    lines.insert(2, canonical_bytes(forged) + b"\n")
    return lines


def _reorder(lines: list[bytes]) -> list[bytes]:
    lines[2], lines[3] = lines[3], lines[2]
    return lines


def _reformat(lines: list[bytes]) -> list[bytes]:
    lines[2] = json.dumps(json.loads(lines[2]), indent=None).encode() + b"\n"
    return lines


@pytest.mark.parametrize(
    ("tamper", "line", "reason"),
    [
        (_edit_field, 3, "hash_mismatch"),
        (_edit_raw_bytes, 3, "hash_mismatch"),
        (_delete, 3, "seq_gap"),
        (_insert_copy, 5, "seq_repeat"),
        (_insert_forged, 3, "hash_mismatch"),
        (_reorder, 3, "seq_gap"),
        (_reformat, 3, "not_canonical"),
    ],
)
def test_verify_names_the_first_bad_line_of_an_edited_log(
    fill: Callable[..., Path], tamper: Callable[[list[bytes]], list[bytes]], line: int, reason: str
) -> None:
    """Modified, deleted, inserted, reordered and reformatted records are each caught at their line."""
    path = fill(10)
    path.write_bytes(b"".join(tamper(_lines(path))))
    out = io.StringIO()
    assert verify_command(path, KEY, out) == 1
    report = verify_log(path, KEY)
    assert (report.ok, report.first_bad_file, report.first_bad_line, report.reason) == (False, path, line, reason)
    assert f"line {line}" in out.getvalue()


def test_verify_detects_records_cut_off_the_end(fill: Callable[..., Path]) -> None:
    """Removing the last records is caught through the head file, at the line where they are missing."""
    path = fill(10)
    path.write_bytes(b"".join(_lines(path)[:8]))
    report = verify_log(path, KEY)
    assert (report.ok, report.first_bad_line, report.reason) == (False, 9, "truncated")
    assert verify_command(path, KEY, io.StringIO()) == 1


def test_verify_detects_an_edited_head_file(fill: Callable[..., Path]) -> None:
    """A head rewritten to an earlier record (to hide a cut) does not verify without the key."""
    path = fill(10)
    record = json.loads(_lines(path)[7])
    path.write_bytes(b"".join(_lines(path)[:8]))
    fake = {"seq": 8, "hash": record["hash"], "mac": head_mac(b"not-the-real-key-0000", 8, record["hash"])}
    head_path(path).write_bytes(canonical_bytes(fake) + b"\n")
    report = verify_log(path, KEY)
    assert (report.ok, report.first_bad_file, report.reason) == (False, head_path(path), "head_mac_mismatch")


def test_verify_detects_a_deleted_head_file(fill: Callable[..., Path]) -> None:
    """Deleting the head file (to make a cut undetectable) is itself reported."""
    path = fill(5)
    head_path(path).unlink()
    assert verify_log(path, KEY).reason == "head_missing"
    assert verify_command(path, KEY, io.StringIO()) == 1


def test_verify_with_the_wrong_key_fails_at_the_first_line(fill: Callable[..., Path]) -> None:
    """A log checked with another key fails at line 1: the HMAC binds the chain to its key."""
    path = fill(5)
    report = verify_log(path, b"another-key-of-enough-length")
    assert (report.ok, report.first_bad_line, report.reason) == (False, 1, "hash_mismatch")


def test_verify_with_a_key_rejects_a_chain_recomputed_without_it(fill: Callable[..., Path]) -> None:
    """An editor without the key who rebuilds the log as a plain SHA-256 chain is caught (downgrade)."""
    path = fill(5)
    rebuilt: list[bytes] = []
    prev = None
    for raw in _lines(path):
        record = json.loads(raw)
        record["prev"] = prev
        record["hash"] = prev = record_hash(None, record)
        rebuilt.append(canonical_bytes(record) + b"\n")
    path.write_bytes(b"".join(rebuilt))
    head_path(path).write_bytes(canonical_bytes({"seq": 5, "hash": prev, "mac": head_mac(None, 5, prev)}))
    report = verify_log(path, KEY)
    assert (report.ok, report.first_bad_line, report.reason) == (False, 1, "unkeyed_record")


def test_verify_without_the_key_cannot_judge_a_keyed_log(fill: Callable[..., Path]) -> None:
    """A keyed log verified without a key exits 2 (cannot verify) rather than passing."""
    path = fill(3)
    assert verify_command(path, None, io.StringIO()) == 2


def test_verify_follows_rotation_and_names_the_file_of_a_bad_record(fill: Callable[..., Path]) -> None:
    """An intact rotated log verifies across files; an edit in an archive names that archive."""
    path = fill(60, max_bytes=4096)
    archives = sorted(path.parent.glob("audit.jsonl.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    assert len(archives) >= 2
    intact = verify_log(path, KEY)
    assert (intact.ok, intact.records, intact.files) == (True, 60, len(archives) + 1)
    lines = _lines(archives[1])
    lines[1] = lines[1].replace(b'"event":"note"', b'"event":"nope"')
    archives[1].write_bytes(b"".join(lines))
    report = verify_log(path, KEY)
    assert (report.first_bad_file, report.first_bad_line, report.reason) == (archives[1], 2, "hash_mismatch")


def test_verify_detects_a_deleted_archive(fill: Callable[..., Path]) -> None:
    """Removing a whole rotated file breaks the chain at the first line of the next file."""
    path = fill(60, max_bytes=4096)
    archives = sorted(path.parent.glob("audit.jsonl.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    archives[1].unlink()
    report = verify_log(path, KEY)
    assert (report.first_bad_file, report.first_bad_line, report.reason) == (archives[2], 1, "seq_gap")


def test_verify_detects_deleting_the_first_records(fill: Callable[..., Path]) -> None:
    """Cutting records off the start is caught: the chain must begin at record 1."""
    path = fill(5)
    path.write_bytes(b"".join(_lines(path)[2:]))
    assert verify_log(path, KEY).reason == "seq_gap"


def test_verify_exits_2_when_the_log_cannot_be_read(tmp_path: Path) -> None:
    """No log at the path is 'cannot read' (2), not 'intact'."""
    assert verify_command(tmp_path / "missing.jsonl", KEY, io.StringIO()) == 2


def test_verify_exits_0_for_an_intact_log(fill: Callable[..., Path]) -> None:
    """The untouched log verifies."""
    path = fill(20)
    assert verify_command(path, KEY, io.StringIO()) == 0
