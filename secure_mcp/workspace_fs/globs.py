"""Matching of ``deny_globs`` against a normalised relative path.

Semantics (gitignore-like, chosen so that a pattern can only deny *more*, never less):

* patterns and paths are compared component by component, case-insensitively (``casefold``),
  because the workspace may live on a case-insensitive filesystem where ``.GIT/config`` *is*
  ``.git/config``;
* ``**`` as a whole component matches any number of components, including none, so ``**/.env``
  matches ``.env`` and ``a/b/.env``, and ``.git/**`` matches ``.git`` itself (a ``.git`` *file*
  would redirect git to another directory);
* any other component is an ``fnmatch`` pattern confined to one component (``*`` never crosses
  ``/``);
* a path is denied when the path *or any of its ancestors* matches, so denying a directory denies
  everything below it;
* besides the NFC form, the NFKC form (full-width look-alikes folded) and a form with trailing dots
  and spaces stripped (which Windows and SMB shares ignore) are tried too.
"""

from __future__ import annotations

import fnmatch
import unicodedata
from collections.abc import Sequence


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split("/") if part not in ("", "."))


def _match_components(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    # Iterative DP over (pattern index, part index): linear in len(pattern) * len(parts), so a
    # pattern full of ``**`` cannot cause exponential backtracking.
    reachable = {0}
    for piece in pattern:
        nxt: set[int] = set()
        if piece == "**":
            start = min(reachable, default=len(parts) + 1)
            nxt.update(range(start, len(parts) + 1))
        else:
            nxt.update(j + 1 for j in reachable if j < len(parts) and fnmatch.fnmatchcase(parts[j], piece))
        reachable = nxt
        if not reachable:
            return False
    return len(parts) in reachable


def _variants(parts: tuple[str, ...]) -> set[tuple[str, ...]]:
    nfc = tuple(unicodedata.normalize("NFC", p).casefold() for p in parts)
    nfkc = tuple(unicodedata.normalize("NFKC", p).casefold() for p in parts)
    stripped = {tuple(p.rstrip(" .") or p for p in form) for form in (nfc, nfkc)}
    return {nfc, nfkc} | stripped


def matching_glob(rel_parts: Sequence[str], deny_globs: Sequence[str]) -> str | None:
    """Return the first deny glob matching the path or one of its ancestors, else ``None``.

    Args:
        rel_parts: the components of the normalised relative path.
        deny_globs: patterns from ``[tools.write_file] deny_globs``.
    """
    patterns = [(glob, tuple(unicodedata.normalize("NFC", p).casefold() for p in _split(glob))) for glob in deny_globs]
    full = tuple(rel_parts)
    for depth in range(1, len(full) + 1):
        for form in _variants(full[:depth]):
            for glob, pattern in patterns:
                if pattern and _match_components(pattern, form):
                    return glob
    return None
