"""Option tables of programs that can start programs or run code: find, git, tar, sort, split,
rsync, make and the interactive pagers and editors.

Each reader walks one call's words with that program's full option table and says what the call
would start (``find -exec``'s command, ``sort --compress-program``'s program, ``tar -z``'s gzip),
what makes it unknowable (``git -c``, ``tar --to-command``, ``split --filter``, ``rsync -e``), and
which option it does not know: an unknown option on such a program is ``unknown``, because it may be
one that runs something. The judge turns these readings into verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from secure_mcp.command_policy.parse import Word


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass
class Reading:
    """What one call of a table-driven program does.

    Attributes:
        runs: commands it starts itself, each as words (``find -exec rm {} ;`` gives ``rm {}``).
        shell_code: shell code it hands to ``sh -c`` (``split --filter``), ``None`` if not literal.
        hidden: why what it runs cannot be known (an option that runs a program or code), if so.
        unknown_option: an option the table does not know.
        deletes: it deletes files itself (``find -delete``).
        executables: helpers it starts besides ``runs`` (``tar -z`` starts gzip, make starts sh).
        subcommand: git's subcommand and whether it only reads.
    """

    runs: list[tuple[Word, ...]] = field(default_factory=list)
    shell_code: list[str | None] = field(default_factory=list)
    hidden: str | None = None
    unknown_option: str | None = None
    deletes: bool = False
    executables: set[str] = field(default_factory=set)
    subcommand: str | None = None
    read_only: bool = True


def gnu_options(
    words: tuple[Word, ...], reading: Reading, flags: frozenset[str], args: frozenset[str], expansion: str
) -> Iterator[tuple[str, str | None]]:
    """Each option of a GNU-style command line, with its value when the table says it takes one.

    Spellings: ``--opt=v`` and ``--opt v``; clustered short flags ``-abc``; a short option's value
    attached (``-ov``) or in the next word (``-o v``). ``--`` ends the options; other words are
    operands (GNU reads options after operands too). A value that is missing or an expansion comes
    as ``None``. An expansion where an option may be sets ``reading.hidden = expansion``, an option in
    neither table sets ``reading.unknown_option``; both end the walk. One walker for the programs
    that share this syntax, so each reader only says what its own options start.
    """

    def following(index: int) -> str | None:
        return words[index].literal if index < len(words) else None

    i = 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            reading.hidden = expansion
            return
        if lit == "--":
            return
        if lit.startswith("--"):
            option, has_value, value = lit.partition("=")
            if option in args:
                yield option, value if has_value else following(i + 1)
                i += 1 if has_value else 2
                continue
            if option not in flags:
                reading.unknown_option = option
                return
            yield option, None  # a flag with ``=value`` is GNU's optional argument (--check=quiet)
        elif lit.startswith("-") and len(lit) > 1:
            for index, letter in enumerate(lit[1:], start=2):
                short = "-" + letter
                if short in args:
                    attached = lit[index:]
                    yield short, attached or following(i + 1)
                    if not attached:
                        i += 1
                    break
                if short not in flags:
                    reading.unknown_option = short
                    return
                yield short, None
        i += 1


_FIND_EXEC = _set("-exec -execdir -ok -okdir")
_FIND_ARG1 = _set(
    "-name -iname -path -ipath -wholename -iwholename -regex -iregex -type -xtype -size -mtime -mmin -atime -amin "
    "-ctime -cmin -newer -anewer -cnewer -perm -user -group -uid -gid -links -inum -samefile -lname -ilname -used "
    "-fstype -maxdepth -mindepth -regextype -printf -fprint -fprint0 -fls -context -files0-from"
)
_FIND_FLAGS = _set(
    "-print -print0 -ls -prune -quit -true -false -empty -readable -writable -executable -nouser -nogroup -depth "
    "-d -mount -xdev -follow -noleaf -daystart -warn -nowarn -ignore_readdir_race -noignore_readdir_race -not -a "
    "-and -o -or -help --help -version --version ! ( ) ,"
)
_FIND_NEWER = re.compile(r"-newer[aBcmt][aBcmtt]")
_FIND_LEADING = _set("-H -L -P")


def read_find(words: tuple[Word, ...]) -> Reading:
    """find: ``-exec``/``-execdir``/``-ok``/``-okdir`` start a command, ``-delete`` deletes."""
    reading = Reading()
    i = 1
    while i < len(words) and words[i].literal in _FIND_LEADING:
        i += 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            reading.hidden = "an expansion could add -exec or -delete"
            return reading
        if lit in _FIND_EXEC:
            end = i + 1
            while end < len(words) and words[end].literal not in (";", "+"):
                end += 1
            if end >= len(words) or end == i + 1:
                reading.hidden = f"{lit} without its command or its end"
                return reading
            reading.runs.append(words[i + 1 : end])
            i = end + 1
        elif lit == "-delete":
            reading.deletes = True
            i += 1
        elif lit == "-fprintf":
            i += 3
        elif lit in _FIND_ARG1 or _FIND_NEWER.fullmatch(lit) or lit in ("-D", "-O") or lit.startswith("-O"):
            i += 1 if lit.startswith("-O") and len(lit) > 2 else 2
        elif lit in _FIND_FLAGS or not lit.startswith("-") or lit == "-":
            i += 1
        else:
            reading.unknown_option = lit
            return reading
    return reading


# git: options before the subcommand that cannot load config or change directories.
_GIT_GLOBALS = _set(
    "--no-pager -P --no-replace-objects --bare --literal-pathspecs --glob-pathspecs --noglob-pathspecs "
    "--icase-pathspecs --no-optional-locks --no-advice --version --help -h"
)
GIT_READ = _set(
    "status log diff show rev-parse ls-files grep blame describe shortlog rev-list cat-file ls-tree diff-tree "
    "diff-files diff-index show-ref for-each-ref count-objects merge-base name-rev whatchanged show-branch "
    "check-ignore check-attr var version help cherry range-diff annotate ls-remote fsck verify-commit verify-tag"
)
# Subcommands that only read when given only these options (or none).
_GIT_LISTING = {
    "branch": _set(
        "-a -r -v -vv -l --list --all --remotes --verbose --show-current --contains --no-contains --merged "
        "--no-merged --sort --format --color --no-color --column --no-column --points-at"
    ),
    "tag": _set("-l --list -n --sort --format --contains --no-contains --merged --no-merged --points-at --column"),
    "stash": _set("list show"),
    "remote": _set("-v --verbose show get-url"),
    "config": _set("--get --get-all --get-regexp --list -l --show-origin --show-scope --name-only --null -z"),
    "worktree": _set("list"),
    "reflog": _set("show"),
}
GIT_WRITE = _set(
    "add commit checkout switch restore reset rm mv merge rebase cherry-pick revert stash tag branch init clone "
    "fetch pull push apply am clean gc worktree submodule config remote notes bisect prune repack replace "
    "update-index update-ref symbolic-ref read-tree write-tree commit-tree hash-object mktree pack-refs "
    "format-patch archive sparse-checkout maintenance reflog"
)
# Read subcommand options that run a program named by config or the environment.
_GIT_RISKY = _set("--ext-diff --textconv -O --open-files-in-pager --output --exec --upload-pack --receive-pack")


def read_git(words: tuple[Word, ...]) -> Reading:
    """git: global options, then the subcommand; aliases and config-loading options are unknown."""
    reading = Reading()
    i = 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            reading.hidden = "an expansion could set git options or config"
            return reading
        if not lit.startswith("-"):
            break
        if lit.split("=", 1)[0] not in _GIT_GLOBALS:
            reading.hidden = f"git {lit.split('=', 1)[0]} can load config (aliases, core.*, hooks) that runs commands"
            reading.shell_code.extend(_git_config_values(words[i:]))
            return reading
        i += 1
    if i >= len(words):
        return reading
    sub = words[i].literal or ""
    reading.subcommand = sub
    rest = words[i + 1 :]
    for word in rest:
        if word.literal is not None and word.literal.split("=", 1)[0] in _GIT_RISKY:
            reading.hidden = f"git {sub} {word.literal.split('=', 1)[0]} runs a program named by config"
            return reading
    if sub in GIT_READ:
        return reading
    if sub == "config" and rest and rest[0].literal in _GIT_LISTING["config"]:
        return reading  # git config --get NAME, --list: reads
    if sub in _GIT_LISTING and all(
        w.literal is not None and w.literal.split("=", 1)[0] in _GIT_LISTING[sub] for w in rest
    ):
        return reading
    if sub in GIT_WRITE:
        reading.read_only = False
        return reading
    reading.hidden = f"'{sub}' is not a git command we know; it may be an alias from the repository's config"
    return reading


def _git_config_values(words: tuple[Word, ...]) -> list[str | None]:
    """Values of ``-c key=value`` (``!`` stripped): aliases, pagers and ssh commands are shell code."""
    values: list[str | None] = []
    for flag, value in zip(words, words[1:], strict=False):
        if flag.literal == "-c" and value.literal is not None and "=" in value.literal:
            values.append(value.literal.split("=", 1)[1].lstrip("!"))
    return values


_TAR_COMPRESSORS = {
    "-z": "gzip",
    "--gzip": "gzip",
    "--gunzip": "gzip",
    "--ungzip": "gzip",
    "-j": "bzip2",
    "--bzip2": "bzip2",
    "-J": "xz",
    "--xz": "xz",
    "--zstd": "zstd",
    "--lzma": "lzma",
    "--lzip": "lzip",
    "--lzop": "lzop",
    "-Z": "gzip",
    "--compress": "gzip",
    "--uncompress": "gzip",
}
_TAR_SUFFIXES = (
    (".tar.gz", "gzip"),
    (".tgz", "gzip"),
    (".gz", "gzip"),
    (".tar.bz2", "bzip2"),
    (".tbz2", "bzip2"),
    (".tbz", "bzip2"),
    (".bz2", "bzip2"),
    (".tar.xz", "xz"),
    (".txz", "xz"),
    (".xz", "xz"),
    (".zst", "zstd"),
    (".tzst", "zstd"),
    (".lz", "lzip"),
    (".lzma", "lzma"),
    (".Z", "gzip"),
)
_TAR_RISKY = _set(
    "--to-command --checkpoint-action -I --use-compress-program --rsh-command --rmt-command -F --info-script "
    "--new-volume-script --interactive -w --confirmation"
)
_TAR_ARGS = _set(
    "-f --file -C --directory -T --files-from -X --exclude-from -b --blocking-factor -g --listed-incremental "
    "-H --format -K --starting-file -L --tape-length -N --newer --after-date -V --label --exclude --strip-components "
    "--transform --xform --owner --group --mode --mtime --sort --newer-mtime --record-size --occurrence --warning "
    "--suffix --exclude-tag --exclude-tag-all --exclude-tag-under --quoting-style --quote-chars --no-quote-chars "
    "--checkpoint --owner-map --group-map --index-file --level --atime-preserve --backup --one-top-level "
    "--hole-detection --sparse-version --pax-option --tape-length --blocking-factor"
)
_TAR_FLAGS = _set(
    "-c --create -x --extract --get -t --list -r --append -u --update -d --diff --compare --delete -A --catenate "
    "--concatenate -v --verbose -p --preserve-permissions --same-permissions -P --absolute-names -k --keep-old-files "
    "--skip-old-files --keep-newer-files --overwrite --no-overwrite-dir --overwrite-dir -m --touch -O --to-stdout "
    "-S --sparse -h --dereference --hard-dereference -W --verify -a --auto-compress --no-auto-compress -i "
    "--ignore-zeros --ignore-failed-read --no-same-owner --same-owner --numeric-owner --no-same-permissions "
    "--exclude-vcs --exclude-vcs-ignores --exclude-caches --exclude-caches-all --exclude-caches-under "
    "--exclude-backups --one-file-system --no-recursion --recursion --null --no-null --verbatim-files-from "
    "--no-verbatim-files-from --wildcards --no-wildcards --wildcards-match-slash --no-wildcards-match-slash "
    "--anchored --no-anchored --ignore-case --no-ignore-case --show-transformed-names --show-stored-names "
    "--totals --full-time --utc --acls --no-acls --xattrs --no-xattrs --selinux --no-selinux --posix "
    "--old-archive --portability --check-links -l --unlink-first -U --recursive-unlink --remove-files "
    "--delay-directory-restore --no-delay-directory-restore --seek -n --no-seek --version --help --usage "
    "--preserve-order -s --same-order -G --incremental -B --read-full-records -M --multi-volume -R "
    "--block-number --show-defaults --show-omitted-dirs --no-ignore-command-error --ignore-command-error "
    "--restrict --force-local --keep-directory-symlink --no-unquote --unquote --strip-trailing-slashes"
)
_TAR_OLD_FLAGS = frozenset("cxtrudAvzjJZkpPhmOSWiGMBsUlwRn")
_TAR_OLD_ARGS = frozenset("fbCTXLNKVgH")


def read_tar(words: tuple[Word, ...]) -> Reading:
    """tar: options that run programs are hidden, compression options start their compressor."""
    reading = Reading()
    archive: str | None = None
    reads = False
    auto = False
    explicit = False
    i = 1
    pending: list[str] = []
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            reading.hidden = "an expansion could add an option that runs a program"
            return reading
        if pending:
            if pending.pop(0) == "f":
                archive = lit
            i += 1
            continue
        option = lit.split("=", 1)[0]
        if i == 1 and not lit.startswith("-"):
            for letter in lit:
                if letter in _TAR_OLD_ARGS:
                    pending.append(letter)
                elif letter not in _TAR_OLD_FLAGS:
                    reading.unknown_option = f"{letter} (in {lit})"
                    return reading
                explicit |= f"-{letter}" in _TAR_COMPRESSORS
                reads |= letter in "xtd"
                if f"-{letter}" in _TAR_COMPRESSORS:
                    reading.executables.add(_TAR_COMPRESSORS[f"-{letter}"])
            i += 1
            continue
        if lit.startswith("--"):
            if option in _TAR_RISKY:
                reading.hidden = f"tar {option} runs a program"
                return reading
            if option in _TAR_COMPRESSORS:
                reading.executables.add(_TAR_COMPRESSORS[option])
                explicit = True
            elif option in _TAR_ARGS:
                if option == "--file":
                    nxt = words[i + 1].literal if i + 1 < len(words) else None
                    archive = lit.split("=", 1)[1] if "=" in lit else nxt
                i += 1 if "=" in lit else 2
                continue
            elif option not in _TAR_FLAGS:
                reading.unknown_option = option
                return reading
            reads |= option in ("--extract", "--get", "--list", "--diff", "--compare")
            auto |= option == "--auto-compress"
            i += 1
            continue
        if lit.startswith("-") and len(lit) > 1:
            step = 1
            for index, letter in enumerate(lit[1:], start=2):
                short = "-" + letter
                if short in _TAR_RISKY:
                    reading.hidden = f"tar {short} runs a program"
                    return reading
                if short in _TAR_COMPRESSORS:
                    reading.executables.add(_TAR_COMPRESSORS[short])
                    explicit = True
                elif short in _TAR_ARGS:
                    value = lit[index:] or (words[i + 1].literal if i + 1 < len(words) else None)
                    if short == "-f":
                        archive = value
                    step = 1 if lit[index:] else 2
                    break
                elif short not in _TAR_FLAGS:
                    reading.unknown_option = short
                    return reading
                reads |= short in ("-x", "-t", "-d")
                auto |= short == "-a"
            i += step
            continue
        i += 1
    if not explicit and (reads or auto) and archive is not None:
        reading.executables.update(tool for suffix, tool in _TAR_SUFFIXES[:] if archive.endswith(suffix))
    return reading


_SORT_FLAGS = _set(
    "-b -d -f -g -i -M -h -n -R -r -V -c -C -m -s -u -z --debug --ignore-leading-blanks --dictionary-order "
    "--ignore-case --general-numeric-sort --ignore-nonprinting --month-sort --human-numeric-sort --numeric-sort "
    "--random-sort --reverse --version-sort --check --merge --stable --unique --zero-terminated --help --version"
)
_SORT_ARGS = _set(
    "-k --key -t --field-separator -o --output -S --buffer-size -T --temporary-directory --parallel --files0-from "
    "--random-source --batch-size --sort --compress-program"
)


def read_sort(words: tuple[Word, ...]) -> Reading:
    """sort: ``--compress-program=PROG`` starts PROG (judged as a program of its own)."""
    reading = Reading()
    expansion = "an expansion could add --compress-program"
    for option, value in gnu_options(words, reading, _SORT_FLAGS, _SORT_ARGS, expansion):
        if option == "--compress-program":
            if value is None:
                reading.hidden = "--compress-program names no program we can see"
                return reading
            reading.runs.append((Word(value, value),))
    return reading


_SPLIT_FLAGS = _set("-d -x -e -u --elide-empty-files --unbuffered --verbose --numeric-suffixes --hex-suffixes --help")
_SPLIT_ARGS = _set(
    "-a -b -C -l -n -t --suffix-length --bytes --line-bytes --lines --number --additional-suffix --separator"
)


def read_split(words: tuple[Word, ...]) -> Reading:
    """split: ``--filter=CMD`` runs CMD through ``sh -c``."""
    reading = Reading()
    i = 1
    while i < len(words):
        lit = words[i].literal
        if lit is None:
            reading.hidden = "an expansion could add --filter"
            return reading
        option, has_value, value = lit.partition("=")
        if option == "--filter":
            reading.shell_code.append(value if has_value else (words[i + 1].literal if i + 1 < len(words) else None))
            reading.executables.add("sh")
            i += 1 if has_value else 2
            continue
        if lit.startswith("--") and option in _SPLIT_ARGS:
            i += 1 if has_value else 2
            continue
        if lit.startswith("-") and len(lit) > 1:
            short = option if lit.startswith("--") else lit[:2]
            if short in _SPLIT_ARGS:
                i += 1 if len(lit) > 2 else 2
                continue
            if lit.startswith("--") and option not in _SPLIT_FLAGS:
                reading.unknown_option = option
                return reading
            if not lit.startswith("--") and not all("-" + c in _SPLIT_FLAGS for c in lit[1:]) and not lit[1:].isdigit():
                reading.unknown_option = lit
                return reading
        i += 1
    return reading


_RSYNC_FLAGS = _set(
    "-a -v -r -l -p -t -g -o -D -z -h -n -P -u -c -H -A -X -q -i -R -x -W -S -L -k -K -m -E -O -J -U -N -b "
    "--archive --verbose --recursive --links --perms --times --group --owner --devices --specials --compress "
    "--human-readable --dry-run --partial --progress --update --checksum --hard-links --acls --xattrs --quiet "
    "--itemize-changes --relative --one-file-system --whole-file --sparse --copy-links --delete --delete-before "
    "--delete-during --delete-after --delete-excluded --stats --prune-empty-dirs --existing --ignore-existing "
    "--inplace --append --backup --no-perms --no-owner --no-group --no-times --safe-links --mkpath --help --version"
)
_RSYNC_ARGS = _set(
    "--exclude --include --exclude-from --include-from --filter -f --max-size --min-size --chmod --chown "
    "--backup-dir --suffix --compare-dest --copy-dest --link-dest --files-from --bwlimit --timeout --temp-dir -T "
    "--out-format --log-file --partial-dir --max-delete --modify-window --usermap --groupmap"
)
# Options that make rsync start a program, or run as a daemon or the remote side.
_RSYNC_RISKY_ARGS = _set("-e --rsh --rsync-path --config --password-file")
_RSYNC_RISKY_FLAGS = _set("--daemon --server --sender")


def read_rsync(words: tuple[Word, ...]) -> Reading:
    """rsync: ``-e``/``--rsh``/``--rsync-path`` name a program to start; unknown options are unknown."""
    reading = Reading()
    flags, args = _RSYNC_FLAGS | _RSYNC_RISKY_FLAGS, _RSYNC_ARGS | _RSYNC_RISKY_ARGS
    for option, _ in gnu_options(words, reading, flags, args, "an expansion could add -e"):
        if option in _RSYNC_RISKY_FLAGS or option in _RSYNC_RISKY_ARGS:
            reading.hidden = f"rsync {option} starts a program"
            return reading
    return reading


def read_make(words: tuple[Word, ...]) -> Reading:
    """make: recipes run through ``sh -c`` (``SHELL=`` or ``--eval`` may change what runs)."""
    reading = Reading(executables={"sh"})
    for word in words[1:]:
        lit = word.literal
        if lit is None:
            reading.hidden = "an expansion could set SHELL or add a makefile"
            return reading
        name = lit.split("=", 1)[0]
        if "=" in lit and name.strip().rstrip(":+?") in ("SHELL", "MAKESHELL", ".SHELLFLAGS", "MAKEFLAGS"):
            reading.hidden = f"make {name}= changes the program that runs recipes"
            return reading
    return reading


def read_zcat(words: tuple[Word, ...]) -> Reading:
    """zcat is a ``#!/bin/sh`` script in the image that runs ``gzip -cd``: gzip starts too."""
    return Reading(executables={"gzip"})


# Programs with a command prompt or config hooks of their own (``!cmd``, LESSOPEN, a pager).
INTERACTIVE = frozenset(
    {"less", "more", "most", "pg", "vi", "vim", "nvim", "view", "ex", "ed", "emacs", "nano", "man", "info", "pager"}
)

READERS = {
    "find": read_find,
    "git": read_git,
    "tar": read_tar,
    "sort": read_sort,
    "split": read_split,
    "rsync": read_rsync,
    "make": read_make,
    "zcat": read_zcat,
}
