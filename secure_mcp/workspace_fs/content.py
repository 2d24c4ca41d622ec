"""Validation of the content an agent wants written."""

from __future__ import annotations

import re
import unicodedata

from secure_mcp.errors import Denied

_MARKER = re.compile(r"\[\s*redacted\s*:")


def has_redaction_marker(content: str) -> bool:
    """Whether ``content`` holds a ``[REDACTED:`` placeholder, also disguised.

    The redact stage shows secrets to the agent as ``[REDACTED:<kind>]``; an agent that writes back
    what it read would replace the real secret with the placeholder and destroy it. The check runs
    on the NFKC form (full-width ``［ＲＥＤＡＣＴＥＤ：``), case-folded, with invisible format
    characters (zero-width spaces ...) removed and blanks around the word allowed.
    """
    if "[REDACTED:" in content:
        return True
    folded = unicodedata.normalize("NFKC", content)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf").casefold()
    return _MARKER.search(folded) is not None


def check_content(content: str, max_bytes: int) -> bytes:
    """Encode ``content`` as UTF-8 after checking its size and that it holds no redaction marker.

    Args:
        content: the text to write.
        max_bytes: ``[tools.write_file] max_bytes``.

    Returns:
        The exact bytes to write.

    Raises:
        Denied: stage ``validate``: ``content_too_large``, ``invalid_unicode`` (lone surrogates,
            which have no UTF-8 form) or ``redaction_marker``.
    """
    if not isinstance(content, str):
        raise Denied("validate", "invalid_content", "content must be text")
    too_large = Denied("validate", "content_too_large", f"content is larger than the {max_bytes}-byte limit")
    if len(content) > max_bytes:  # every character is at least one byte: skip encoding huge input
        raise too_large
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError:
        message = "content holds lone surrogates, which are not valid text"
        raise Denied("validate", "invalid_unicode", message) from None
    if len(data) > max_bytes:
        raise too_large
    if has_redaction_marker(content):
        raise Denied(
            "validate",
            "redaction_marker",
            "content holds a [REDACTED:...] placeholder; writing it would replace a real secret with the mask",
        )
    return data
