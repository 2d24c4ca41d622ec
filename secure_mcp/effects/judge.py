"""The effects judge: one verdict for a whole change set, from ``[tools.run_command.effects]``.

Rules, strictest first; a change set is refused if any change is refused, asked about if any
change needs a yes, allowed otherwise (it is applied or discarded whole, never in part):

* more than ``max_files`` paths touched, more than ``max_bytes`` added, or the layer ran full: refused;
* a device node: refused; a fifo or socket: ``special_files`` (``strip`` = not applied, with a warning);
* a set-uid or set-gid file: ``setid`` (``deny`` refuses; ``strip`` applies it without those bits);
* a link resolving outside the workspace (any absolute target, any ``..`` past the root): refused;
* a protected path (``protected_names`` at any depth, ``protected``) or a folder git would accept
  as a repository (``repositories``): refused, or asked where configured;
* deleting, truncating or replacing an existing file (``existing``): asked (appending, creating and
  mode changes that add no set-id bit are not);
* everything else (new files, folders, links inside the workspace): allowed.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from secure_mcp.config import EffectsConfig, parse_size
from secure_mcp.effects.changeset import Change, ChangeSet
from secure_mcp.effects.view import AfterView
from secure_mcp.workspace_fs.protected import ProtectedHit, protected_reason

Decision = Literal["allow", "confirm", "refuse"]
SETID = stat.S_ISUID | stat.S_ISGID


@dataclass
class Verdict:
    """The decision and every reason behind it (all shown, so a person sees the whole picture)."""

    refusals: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    stripped: list[str] = field(default_factory=list)
    skip: set[PurePosixPath] = field(default_factory=set)
    strip_setid: set[PurePosixPath] = field(default_factory=set)

    @property
    def decision(self) -> Decision:
        if self.refusals:
            return "refuse"
        return "confirm" if self.questions else "allow"

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.decision,
            "refused": list(self.refusals),
            "needs_yes": list(self.questions),
            "stripped": list(self.stripped),
        }


def _existing_rule(change: Change, verdict: Verdict, existing: str) -> None:
    old = change.old
    if old is None or existing == "allow":
        return
    if change.kind == "deleted":
        what = f"deletes {change.path} ({old.kind}, {old.size} bytes"
        what += f", {old.files - 1} entries below)" if old.kind == "dir" else ")"
    elif change.kind == "modified" and not change.appended:
        verb = "truncates" if change.size < old.size else "rewrites"
        what = f"{verb} {change.path} ({old.size} -> {change.size} bytes)"
    else:
        return
    (verdict.refusals if existing == "deny" else verdict.questions).append(what)


def judge(changes: ChangeSet, view: AfterView, config: EffectsConfig, *, layer_full: bool = False) -> Verdict:
    """The verdict for ``changes``; never raises for a hostile change set (it is only data)."""
    verdict = Verdict()
    max_bytes = parse_size(config.max_bytes)
    if layer_full or changes.added_bytes() > max_bytes:
        verdict.refusals.append(f"the command wrote more than max_bytes ({max_bytes} bytes) to the workspace")
    if changes.touched() > config.max_files:
        touched = changes.touched()
        verdict.refusals.append(f"the command touched {touched} paths, more than max_files ({config.max_files})")
    cache: dict[PurePosixPath, bool] = {}
    for change in changes.changes:
        path = change.path
        if change.kind == "special":
            if change.special == "device" or config.special_files == "deny":
                verdict.refusals.append(f"{path} is a {change.special}; special files are never applied")
            else:
                verdict.stripped.append(f"{path} ({change.special}) not applied: special files are stripped")
                verdict.skip.add(path)
            continue
        if change.kind in ("created", "modified", "mode") and change.mode & SETID:
            if config.setid == "deny":
                verdict.refusals.append(f"{path} has the set-uid or set-gid bit")
            else:
                verdict.stripped.append(f"{path}: set-uid/set-gid bits stripped")
                verdict.strip_setid.add(path)
        if change.kind == "symlink" and change.link_target is not None:
            if view.link_escapes(path, change.link_target):
                verdict.refusals.append(f"{path} is a link that resolves outside the workspace")
        is_file = change.kind in ("created", "modified", "mode", "symlink", "special") and not stat.S_ISDIR(change.mode)
        hit = protected_reason(path, config.protected_names, view.kind_of, view.read_head, cache, is_file=is_file)
        if hit is None and change.old is not None and change.old.protected_inside is not None:
            hit = ProtectedHit("name", f"{path} holds a protected path ({change.old.protected_inside})")
        if hit is not None:
            rule = config.repositories if hit.rule == "repository" else config.protected
            (verdict.refusals if rule == "deny" else verdict.questions).append(hit.message)
        _existing_rule(change, verdict, config.existing)
    return verdict
