"""The question after a run: what the command changed, shown so a person can decide on it.

The change set's digest comes first (a long question is cut at the end, never there), then why a
yes is needed, then every change with its size, and a bounded, terminal-safe unified diff
(``workspace_fs.diff``) for each text file that is rewritten or truncated.
"""

from __future__ import annotations

from pathlib import Path

from secure_mcp.effects.changeset import Change, ChangeSet
from secure_mcp.effects.judge import Verdict
from secure_mcp.workspace_fs.diff import unified_diff
from secure_mcp.workspace_fs.read import snapshot_existing

_SIGN = {"created": "+", "dir": "+", "symlink": "+", "deleted": "-", "modified": "~", "mode": "~", "special": "!"}


def _line(change: Change) -> str:
    old = change.old
    if change.kind == "deleted" and old is not None:
        below = f", {old.files - 1} entries below" if old.kind == "dir" else ""
        return f"- delete {change.path} ({old.kind}, {old.size} bytes{below})"
    if change.kind == "modified" and old is not None:
        how = "append to" if change.appended else "truncate" if change.size < old.size else "rewrite"
        return f"~ {how} {change.path} ({old.size} -> {change.size} bytes)"
    if change.kind == "mode":
        return f"~ chmod {oct(change.mode & 0o7777)} {change.path}"
    if change.kind == "symlink":
        return f"+ link {change.path} -> {change.link_target}"
    if change.kind == "dir":
        return f"+ folder {change.path}/"
    if change.kind == "special":
        return f"! {change.special} {change.path}"
    return f"{_SIGN.get(change.kind, '?')} create {change.path} ({change.size} bytes)"


def _read_upper(upper: Path, change: Change, limit: int) -> bytes | None:
    try:
        snapshot = snapshot_existing(upper, change.path, limit)
    except Exception:  # noqa: BLE001 - an unreadable layer file is shown without a diff
        return None
    return None if snapshot is None else snapshot.data


def build_effects_question(
    changes: ChangeSet,
    verdict: Verdict,
    digest: str,
    upper: Path,
    workspace: Path,
    *,
    diff_chars: int,
    read_limit: int,
) -> str:
    """The question text. Blocks (reads the files it diffs)."""
    why = "\n".join(f"- {reason}" for reason in verdict.questions)
    lines = [
        "secure-mcp: the command has run in the sandbox; apply its changes to the workspace?",
        f"change set sha256:{digest} ({len(changes.changes)} changes, {changes.added_bytes()} bytes added)",
        "nothing has been applied or returned yet; a no discards every change",
        f"why it needs a yes:\n{why}",
        "--- changes ---",
    ]
    budget = diff_chars
    for change in changes.changes:
        lines.append(_line(change))
        if change.kind == "modified" and not change.appended and change.old is not None and budget > 200:
            try:
                before = snapshot_existing(workspace, change.path, read_limit)
            except Exception:  # noqa: BLE001 - the host file may be gone or a link now: no diff
                before = None
            after = _read_upper(upper, change, read_limit)
            if after is not None:
                diff = unified_diff(
                    None if before is None else before.data,
                    after,
                    str(change.path),
                    min(budget, diff_chars),
                    old_size=None if before is None else before.size,
                )
                lines.append(diff)
                budget -= len(diff)
    for stripped in verdict.stripped:
        lines.append(f"note: {stripped}")
    return "\n".join(lines)


def describe_refusal(verdict: Verdict) -> str:
    """The refusal message: every reason, and that nothing was applied."""
    reasons = "\n".join(f"- {reason}" for reason in verdict.refusals)
    return f"the command's changes to the workspace were refused; nothing was applied:\n{reasons}"
