"""``audit verify``: walk the whole chain, across rotated files, and compare it with the head.

Every line is checked for, in order: being a complete line, strict JSON, the chain fields, being in
canonical form (a hand edit that keeps the meaning still changed bytes), carrying the hash kind the
key implies, a correct hash, the next ``seq`` and a ``prev`` equal to the previous record's hash.
The first failure is reported with its file, line and a stable reason; later damage is not looked
at, because everything after a break is unanchored anyway.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from secure_mcp.audit.canonical import canonical_bytes, parse_object
from secure_mcp.audit.chain import has_valid_hash, has_valid_head_mac, is_keyed_hash
from secure_mcp.audit.files import Head, head_path, log_files, read_head

WHY: dict[str, str] = {
    "torn_line": "the line is cut off without a newline inside a rotated file",
    "malformed": "the line is not a well-formed audit record",
    "not_canonical": "the bytes differ from the record's canonical form: the line was edited",
    "unkeyed_record": "a plain SHA-256 record in a log verified with a key: the chain was recomputed "
    "by someone without the key",
    "key_required": "the log is HMAC-keyed; verify needs the key (audit.key_env or audit.key_file)",
    "hash_mismatch": "the record does not match its hash: it was edited or forged, or the key is wrong",
    "seq_gap": "the record number skips ahead: records before this line were deleted or moved",
    "seq_repeat": "the record number goes back: a record was inserted, duplicated or moved",
    "prev_mismatch": "the record does not link to the previous one: records were removed, inserted or reordered",
    "head_missing": "the head file is missing, so a cut-off tail could not be detected",
    "head_malformed": "the head file is not a well-formed head",
    "head_mac_mismatch": "the head file does not verify: it was edited, or the key is wrong",
    "head_mismatch": "the head file names a record hash the log does not have at that position",
    "truncated": "records were cut off the end: the head file names a later record than the log holds",
}


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``verify_log``; ``reason`` is a key of ``WHY`` when ``ok`` is false."""

    ok: bool
    records: int
    files: int
    first_bad_line: int | None
    first_bad_file: Path | None
    reason: str | None
    recovered: tuple[str, ...]
    detail: str | None = None
    last_seq: int = 0


@dataclass
class _Walk:
    key: bytes | None
    head_seq: int | None
    expected: int = 1
    prev: str | None = None
    records: int = 0
    hash_at_head: str | None = None
    recovered: list[str] = field(default_factory=list)


class _Bad(Exception):
    def __init__(self, file: Path, line: int | None, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.file, self.line, self.reason, self.detail = file, line, reason, detail


def _check_record(walk: _Walk, raw: bytes, file: Path, number: int) -> dict[str, Any]:
    try:
        record = parse_object(raw)
    except ValueError:
        raise _Bad(file, number, "malformed") from None
    seq, prev, digest = record.get("seq"), record.get("prev"), record.get("hash")
    if type(seq) is not int or not isinstance(digest, str) or not (prev is None or isinstance(prev, str)):
        raise _Bad(file, number, "malformed")
    if not isinstance(record.get("ts"), str) or not isinstance(record.get("event"), str):
        raise _Bad(file, number, "malformed")
    if canonical_bytes(record) != raw:
        raise _Bad(file, number, "not_canonical")
    if walk.key is None and is_keyed_hash(digest):
        raise _Bad(file, number, "key_required")
    if walk.key is not None and not is_keyed_hash(digest):
        raise _Bad(file, number, "unkeyed_record")
    if not has_valid_hash(walk.key, record):
        raise _Bad(file, number, "hash_mismatch")
    if seq != walk.expected:
        reason = "seq_gap" if seq > walk.expected else "seq_repeat"
        raise _Bad(file, number, reason, f"expected record {walk.expected}, found {seq}")
    if prev != walk.prev:
        raise _Bad(file, number, "prev_mismatch")
    return record


def _walk_file(walk: _Walk, file: Path, is_active: bool) -> int:
    number = 0
    with open(file, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                if not is_active:
                    raise _Bad(file, number, "torn_line")
                walk.recovered.append(
                    f"{file.name} line {number}: torn last line of {len(raw)} bytes from a crash, not yet "
                    "recovered (the next server start cuts it and records a recovery)"
                )
                return number - 1
            record = _check_record(walk, raw[:-1], file, number)
            if record["event"] == "recovery":
                walk.recovered.append(
                    f"{file.name} line {number}: recovery record: {record.get('lost_bytes')} torn bytes "
                    f"(sha256 {str(record.get('lost_sha256'))[:16]}...) cut from {record.get('file')} "
                    f"at offset {record.get('offset')}"
                )
            walk.prev, walk.expected, walk.records = record["hash"], walk.expected + 1, walk.records + 1
            if record["seq"] == walk.head_seq:
                walk.hash_at_head = record["hash"]
    return number


def _check_head(walk: _Walk, head: Head | None, path: Path, last_file: Path | None, last_line: int) -> None:
    last_seq = walk.expected - 1
    if head is None:
        if last_seq > 0:
            raise _Bad(head_path(path), None, "head_missing")
        return
    if not has_valid_head_mac(walk.key, head.seq, head.hash, head.mac):
        raise _Bad(head_path(path), 1, "head_mac_mismatch")
    if head.seq > last_seq:
        raise _Bad(
            last_file or path,
            last_line + 1,
            "truncated",
            f"the head file names record {head.seq}; the log ends at record {last_seq}",
        )
    if head.seq > 0 and head.hash != walk.hash_at_head or head.seq == 0 and head.hash is not None:
        raise _Bad(head_path(path), 1, "head_mismatch")
    if head.seq < last_seq:
        walk.recovered.append(
            f"head file lags the log by {last_seq - head.seq} record(s): a crash between the log "
            "write and the head update"
        )


def verify_log(path: Path, key: bytes | None) -> VerifyReport:
    """Verify the whole log at ``path`` (all rotated files) with ``key``.

    Raises:
        OSError: there is no log at ``path`` or a file cannot be read (exit 2).
    """
    files = log_files(path)
    if not files and not os.path.lexists(head_path(path)):
        raise FileNotFoundError(errno.ENOENT, "no audit log here", str(path))
    walk = _Walk(key=key, head_seq=None)
    head: Head | None = None
    last_file: Path | None = None
    last_line = 0
    try:
        try:
            head = read_head(path)
        except ValueError:
            raise _Bad(head_path(path), 1, "head_malformed") from None
        walk.head_seq = head.seq if head is not None else None
        for file in files:
            last_line = _walk_file(walk, file, is_active=file == path)
            last_file = file
        _check_head(walk, head, path, last_file, last_line)
    except _Bad as bad:
        return VerifyReport(
            ok=False,
            records=walk.records,
            files=len(files),
            first_bad_line=bad.line,
            first_bad_file=bad.file,
            reason=bad.reason,
            recovered=tuple(walk.recovered),
            detail=bad.detail,
            last_seq=walk.expected - 1,
        )
    recovered = tuple(walk.recovered)
    return VerifyReport(True, walk.records, len(files), None, None, None, recovered, None, walk.expected - 1)


def verify_command(path: Path, key: bytes | None, out: TextIO) -> int:
    """Print a verdict for a person; exit 0 intact, 1 tampered, 2 cannot read (or no key for a keyed log)."""
    try:
        report = verify_log(path, key)
    except OSError as exc:
        out.write(f"audit log {path}: CANNOT READ ({exc.strerror or exc})\n")
        return 2
    mode = "HMAC-SHA256" if key is not None else "SHA-256 (no key: detects accidents, not a careful editor)"
    if report.ok:
        out.write(f"audit log {path}: INTACT\n")
        out.write(f"  {report.records} records in {report.files} file(s), chain {mode}, head file matches\n")
    elif report.reason == "key_required":
        out.write(f"audit log {path}: CANNOT VERIFY\n  {WHY['key_required']}\n")
        return 2
    else:
        where = str(report.first_bad_file)
        if report.first_bad_line is not None:
            where += f" line {report.first_bad_line}"
        out.write(f"audit log {path}: TAMPERED\n")
        out.write(f"  first bad record: {where}\n")
        out.write(f"  why: {report.reason}: {WHY.get(report.reason or '', '')}\n")
        if report.detail:
            out.write(f"  detail: {report.detail}\n")
        out.write(f"  records verified before it: {report.records}\n")
    for note in report.recovered:
        out.write(f"  note: {note}\n")
    return 0 if report.ok else 1
