"""Sealing and checking records of the hash chain.

Each record carries ``seq`` (1, 2, 3 ... across every file of the log), ``prev`` (the previous
record's ``hash``, ``null`` for the first) and ``hash``: over the canonical serialisation of the
record without its ``hash`` field. With a key the hash is an HMAC-SHA256, so a person who can edit
the file but does not hold the key cannot recompute the chain after an edit. The algorithm is part
of the stored value (``hmac-sha256:<hex>`` or ``sha256:<hex>``) so a verifier holding a key can
refuse a log silently rewritten into the unkeyed form (a downgrade).

The head file's MAC is computed under a different prefix (domain separation), so no record hash can
ever be replayed as a valid head MAC or the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from secure_mcp.audit.canonical import canonical_bytes, join_members

HMAC_PREFIX = "hmac-sha256:"
SHA_PREFIX = "sha256:"
RESERVED_FIELDS = frozenset({"seq", "ts", "prev", "hash"})
_HEAD_DOMAIN = b"secure-mcp audit head v1\x00"


def _digest(key: bytes | None, data: bytes) -> str:
    if key is None:
        return SHA_PREFIX + hashlib.sha256(data).hexdigest()
    return HMAC_PREFIX + hmac.new(key, data, hashlib.sha256).hexdigest()


def record_hash(key: bytes | None, record: Mapping[str, Any]) -> str:
    """The ``hash`` a record must carry: over its canonical form without the ``hash`` field.

    Raises:
        TypeError, ValueError: the record is not plain JSON data.
    """
    body = {name: value for name, value in record.items() if name != "hash"}
    return _digest(key, canonical_bytes(body))


def seal(key: bytes | None, members: Mapping[str, bytes], *, seq: int, ts: str, prev: str | None) -> tuple[bytes, str]:
    """The stored line (with its newline) at position ``seq``, and its hash.

    Args:
        members: the caller's fields as ``canonical_members`` gives them (serialised once, before
            the lock is taken, so the locked section only hashes and joins bytes).
    """
    record = dict(members)
    record["seq"] = b'"seq":%d' % seq
    record["ts"] = b'"ts":' + json.dumps(ts).encode("ascii")
    record["prev"] = b'"prev":' + json.dumps(prev).encode("ascii")
    digest = _digest(key, join_members(record))
    record["hash"] = b'"hash":"' + digest.encode("ascii") + b'"'
    return join_members(record) + b"\n", digest


def has_valid_hash(key: bytes | None, record: Mapping[str, Any]) -> bool:
    """Whether ``record["hash"]`` is what ``key`` gives; constant-time comparison."""
    stored = record.get("hash")
    if not isinstance(stored, str):
        return False
    try:
        expected = record_hash(key, record)
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(stored.encode("ascii", "replace"), expected.encode("ascii"))


def is_keyed_hash(value: object) -> bool:
    """Whether a stored hash claims to be an HMAC (as opposed to a plain SHA-256)."""
    return isinstance(value, str) and value.startswith(HMAC_PREFIX)


def head_mac(key: bytes | None, seq: int, last_hash: str | None) -> str:
    """The MAC binding the head file's ``seq`` and ``hash`` together."""
    body = canonical_bytes({"hash": last_hash, "seq": seq})
    return _digest(key, _HEAD_DOMAIN + body)


def has_valid_head_mac(key: bytes | None, seq: int, last_hash: str | None, mac: object) -> bool:
    """Whether ``mac`` is the head MAC ``key`` gives for ``seq`` and ``last_hash``."""
    if not isinstance(mac, str):
        return False
    return hmac.compare_digest(mac.encode("ascii", "replace"), head_mac(key, seq, last_hash).encode("ascii"))
