"""The offline image's root filesystem: ``debootstrap`` a minimal Debian, then strip and harden it.

Runs as root on the build machine only (debootstrap needs it), never in the server. Nothing from a
container registry is used; packages come signed from a Debian mirror.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from secure_mcp.sandbox.settings import SANDBOX_UID

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: What a coding agent's commands need. git, make and the text tools are what the bundled allow list
#: names; python3-venv lets ``python3 -m venv`` work. Everything comes from Debian, signed.
PACKAGES = (
    "python3",
    "python3-venv",
    "bash",
    "coreutils",
    "diffutils",
    "file",
    "findutils",
    "gawk",
    "git",
    "grep",
    "gzip",
    "jq",
    "make",
    "procps",
    "sed",
    "tar",
    "unzip",
)
#: Dropped after the bootstrap: documentation, caches and package lists are not needed to run code.
STRIP = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/cache/apt",
    "var/cache/debconf",
    "var/lib/apt/lists",
    "var/log",
)
_QUIET = re.compile(r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) ")


def detect_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt uses on this machine (one-line or deb822 sources), else deb.debian.org."""
    candidates = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)", text, re.MULTILINE):
            url = match.group(1).rstrip("/")
            if re.match(r"^https?://", url) and url.endswith("/debian"):
                return url
    return DEFAULT_MIRROR


def build_rootfs(root: Path, mirror: str, runner: Mapping[str, bytes], out: TextIO) -> None:
    """Bootstrap, strip, add the sandbox user and the runner files (name -> content).

    Raises:
        RuntimeError: not root, debootstrap missing or failing.
    """
    if os.geteuid() != 0:
        raise RuntimeError("the offline build runs debootstrap, which needs root: run it with sudo")
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        raise RuntimeError("debootstrap is not installed: apt-get install debootstrap")
    out.write(f"debootstrap {SUITE} from {mirror} (a minute or two) ...\n")
    argv = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), mirror]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None  # noqa: S101 - guaranteed by stdout=PIPE
    for line in process.stdout:
        if not _QUIET.match(line):
            out.write(line)
    if process.wait() != 0:
        raise RuntimeError(f"debootstrap failed with exit code {process.returncode}")
    _strip(root)
    _add_user(root)
    runner_dir = root / "opt/secure-mcp"
    runner_dir.mkdir(parents=True, exist_ok=True)
    for name, content in runner.items():
        (runner_dir / name).write_bytes(content)
        (runner_dir / name).chmod(0o644)
    (root / "workspace").mkdir(mode=0o755, exist_ok=True)
    (root / "tmp").chmod(0o1777)


def _strip(root: Path) -> None:
    for relative in STRIP:
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir(mode=0o755)
    # no-new-privileges already neuters set-id programs; removing the bits is a second layer.
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
                path.chmod(stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))


def _add_user(root: Path) -> None:
    """The sandbox user, written straight into the files: no useradd, no chroot needed."""
    with (root / "etc/passwd").open("a") as passwd:
        entry = f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:secure-mcp sandbox:/nonexistent:/usr/sbin/nologin"
        passwd.write(entry + "\n")
    with (root / "etc/group").open("a") as group:
        group.write(f"sandbox:x:{SANDBOX_UID}:\n")
    with (root / "etc/shadow").open("a") as shadow:
        shadow.write("sandbox:!:19000:0:99999:7:::\n")


def tar_rootfs(root: Path, archive: Path) -> None:
    """Archive the root with numeric owners, ready for ``docker import``."""
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."], check=True)
