"""Canonical JSON: the one byte form a record is hashed and stored in.

A hash chain is only verifiable if writer and verifier serialise a record to the same bytes. Sorted
keys, compact separators and ASCII-only output make the form unique for a given value, and
ASCII-only output also means a line can never hold a raw newline, a terminal escape byte or an
invalid UTF-8 sequence. Values JSON cannot carry exactly (NaN, infinities, arbitrary objects) are
rejected rather than coerced: ``str()`` of an unknown object could smuggle an unredacted value into
the log, so the caller must hand over plain, already-redacted data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object named the same key twice; parsers disagree on which one wins."""


def canonical_bytes(value: Mapping[str, Any]) -> bytes:
    """The canonical serialisation of ``value`` (no trailing newline).

    Raises:
        TypeError: a value is not a JSON type (the record must be plain data).
        ValueError: a float is NaN or infinite.
    """
    return _dumps(value)


def canonical_members(value: Mapping[str, Any]) -> dict[str, bytes]:
    """Each top-level member of ``value`` serialised canonically (``"key":value``), by key.

    ``join_members`` of the result equals ``canonical_bytes(value)``: a compact sorted-key object is
    exactly its members in key order joined by commas. Serialising the members once lets the chain
    hash a record and then store it with its hash without serialising the payload twice.

    Raises:
        TypeError: a value is not a JSON type.
        ValueError: a float is NaN or infinite.
    """
    members: dict[str, bytes] = {}
    for name, item in value.items():
        if not isinstance(name, str):
            raise TypeError("keys must be strings")
        members[name] = _dumps(name) + b":" + _dumps(item)
    return members


def join_members(members: Mapping[str, bytes]) -> bytes:
    """The canonical object made of ``members`` (see ``canonical_members``)."""
    return b"{" + b",".join(members[name] for name in sorted(members)) + b"}"


# One encoder, built once: json.dumps with non-default options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _dumps(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("ascii")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise DuplicateKeyError(f"duplicate key {key!r}")
        result[key] = item
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def parse_object(line: bytes) -> dict[str, Any]:
    """Parse one stored line strictly: an object, no duplicate keys, no NaN/Infinity.

    Raises:
        ValueError: the line is not strict JSON or not an object (``UnicodeDecodeError`` and
            ``json.JSONDecodeError`` are subclasses).
    """
    value = json.loads(
        line.decode("ascii"),
        object_pairs_hook=_reject_duplicates,
        parse_constant=_reject_constant,
    )
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
