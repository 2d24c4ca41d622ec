"""Which server process owns a container, so a restart cleans up only what is truly orphaned.

A container's owner label is ``host:boot_id:pid:start_time``. Another server on the same engine
is left alone while its process lives; the start time (from ``/proc``) defeats pid reuse and the
boot id defeats a reboot. Containers from another host sharing the engine cannot be judged from
here and are left alone; that host's server cleans them up when it restarts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def current_owner() -> str:
    """This process's owner label."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{_boot_id()}:{pid}:{_start_time(pid) or 'unknown'}"


def is_orphan(owner: str, *, running: bool) -> bool:
    """Whether a container with this owner label was left by a server that no longer runs.

    Args:
        owner: the container's owner label (may be malformed: then only a stopped one is removed).
        running: whether the container still runs. A stopped container of a live server may be
            waiting for that server to read its exit status, so it is never touched either.
    """
    parts = owner.split(":")
    if len(parts) != 4 or not parts[2].isdigit():
        return not running
    host, boot, pid, started = parts
    if host != socket.gethostname():
        return False
    if boot != _boot_id():
        return True
    return _start_time(int(pid)) != started
