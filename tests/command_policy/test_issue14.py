"""Issue 14: one grammar (bash, read by tree-sitter-bash), interpreters, option tables, executables.

Every example of the issue is here at policy level (and end to end in tests/e2e/test_issue14_examples.py).
"""

from __future__ import annotations

import pytest

from secure_mcp.command_policy import CommandPolicy, judge_command
from secure_mcp.command_policy import parse as parse_module
from secure_mcp.errors import Denied
from tests.command_policy.support import DEFAULT
from tests.command_policy.test_benign_table import bundled_policy

BUNDLED = bundled_policy()
PAD = "x" * 8000

# (command, decision under the bundled config, programs that must be among the findings)
ISSUE_EXAMPLES: list[tuple[str, str, set[str]]] = [
    # bash reads `&>` as a redirect: echo with arguments rm -v victim; nothing else starts
    ("echo &>/tmp/o rm -v victim", "allow", {"echo"}),
    ("echo &>/tmp/o mount -t tmpfs x /mnt", "allow", {"echo"}),
    # $'...' is bash quoting: `$'\''` is an open quote to bash; the policy still sees rm after `;`
    ("echo $'\\'; rm -v victim\n", "confirm", {"rm"}),
    ("echo $'\\'; mount x\n", "deny", {"mount"}),
    # here-documents end at the line EOF whatever the quoting of the delimiter
    ('cat <<E"O"F\nbody\nEOF\nrm -v victim', "confirm", {"cat", "rm"}),
    ("cat <<E'O'F\nbody\nEOF\nrm -v victim", "confirm", {"cat", "rm"}),
    ('cat <<""EOF\nbody\nEOF\nrm -v victim', "confirm", {"cat", "rm"}),
    ("cat <<EO\\F\nbody\nEOF\nrm -v victim", "confirm", {"cat", "rm"}),
    ('cat <<E"O"F\nbody\nEOF\nmount x', "deny", {"mount"}),
    # code reaching an allowed python3 without -c
    ("echo 'import os; os.system(\"rm victim\")' | python3 /dev/stdin", "confirm", {"python3 <program from stdin>"}),
    ("python3 -m timeit -s 'import os; os.system(\"rm victim\")'", "confirm", {"python3 -m timeit"}),
    ("python3 --check-hash-based-pycs always -c 'import os'", "confirm", {"python3 <inline code>"}),
    ("echo 'import os' | python3 -i /dev/null", "confirm", {"python3 <program from stdin>"}),
    ("python3 -m runpy x", "confirm", {"python3 -m runpy"}),
    ("python3 -m code", "confirm", {"python3 -m code"}),
    ("python3 -m pdb script.py", "confirm", {"python3 -m pdb"}),
    ("python3 - < x.py", "confirm", {"python3 <program from stdin>"}),
    ("python3 -X dev -c 'print(1)'", "confirm", {"python3 <inline code>"}),
    ("python3 --unknown-flag script.py", "confirm", {"python3 --unknown-flag"}),
    # sed, awk and git with programs or config from elsewhere
    ("sed -f prog.sed victim", "confirm", {"sed -f <program file>"}),
    ("sed --file=prog.sed victim", "confirm", {"sed --file <program file>"}),
    ("awk -f prog.awk victim", "confirm", {"awk -f <program file>"}),
    ("awk -i inc.awk '{print}' victim", "confirm", {"awk -i <program file>"}),
    ("git -C . -c alias.x=!mount x", "deny", {"mount"}),
    ("git -c alias.x='!rm victim' x", "confirm", {"rm"}),
    ("git --exec-path=/tmp status", "confirm", {"git <runs something hidden>"}),
    ("git -c core.pager=less log", "confirm", {"git <runs something hidden>"}),
    # the question is cut at 8,000 characters: padding before rm no longer hides it
    (f"echo {PAD}; rm -v victim", "confirm", {"rm"}),
    # bashlex misread (( i++ )) as a program and refused case, [[ ]], $(( ))
    ("(( i++ ))", "allow", set()),
    ("[[ -f x ]] && cat x", "allow", {"cat"}),
    ("case $x in a) echo a;; *) echo b;; esac", "allow", {"echo"}),
    ("echo $((1 + 2))", "allow", {"echo"}),
]


@pytest.mark.parametrize(
    ("command", "decision", "programs"), ISSUE_EXAMPLES, ids=[repr(c[:60]) for c, _, _ in ISSUE_EXAMPLES]
)
def test_issue_example_is_judged_as_bash_runs_it(command: str, decision: str, programs: set[str]) -> None:
    """Each example of issue 14 gets bash's reading, under the bundled config."""
    result = judge_command(command, BUNDLED)
    assert result.decision == decision, result.explain()
    assert programs <= {p.program for p in result.programs}, result.explain()
    if command.startswith("echo &>"):
        assert result.approved() == ()  # echo is a builtin: the sandbox lets nothing but bash start


CONSTRUCTS: list[tuple[str, set[str]]] = [
    ("case $1 in start) curl x;; stop) ls;; esac", {"curl", "ls"}),
    ("[[ -f $(wget x) ]]", {"wget"}),
    ("echo $(( $(nc x) + 1 ))", {"nc"}),
    ("(( x = $(curl y) ))", {"curl"}),
    ("for ((i = 0; i < $(curl n); i++)); do ls; done", {"curl", "ls"}),
    ("select x in a b; do curl $x; done", {"curl"}),
    ("coproc curl x", {"curl"}),
    ("coproc wget x; ls", {"wget", "ls"}),
    ("echo $'a' $\"b\" $(curl c)", {"curl"}),
    ("ls &> out; curl x", {"curl"}),
    ("ls |& curl x", {"curl"}),
    ("cat <<EOF\n$(curl x)\nEOF", {"curl"}),
    ("cat <<EOF\n`wget x`\nEOF", {"wget"}),
    ("cat <<-EOF\n\t$(nc x)\n\tEOF", {"nc"}),
    ('cat <<< "$(curl x)"', {"curl"}),
    ("f() { curl x; }; f", {"curl"}),
    ("function g { wget x; }", {"wget"}),
    ("diff <(curl a) >(wget b)", {"curl", "wget"}),
    ("echo \"${x:-'$(curl y)'}\"", {"curl"}),
    ("a=(1 $(curl x))", {"curl"}),
    ("time curl x", {"curl"}),
    ("export X=$(curl y)", {"curl"}),
    ("cu\\\nrl x", {"curl"}),
]


@pytest.mark.parametrize(("command", "programs"), CONSTRUCTS, ids=[repr(c) for c, _ in CONSTRUCTS])
def test_every_bash_construct_is_understood_and_its_programs_found(command: str, programs: set[str]) -> None:
    """case, [[ ]], $(( )), (( )), arithmetic for, select, coproc, $'', $"", &>, |&, here-documents,
    here-strings, functions, process substitution: each parses, and what it runs is found."""
    result = judge_command(command, DEFAULT)
    assert programs <= {p.program for p in result.programs}, result.explain()
    assert result.decision == "deny"


@pytest.mark.parametrize(
    ("command", "where"),
    [
        ("ls |", "1:"),
        ("echo ok\nls )", "2:4"),
        ("echo ok\ncat <<EOF\nno end", "here-document without its end line at 2:7"),
        ("case x in a) ls;;", "1:"),
        ("echo $((1 +", "1:"),
    ],
)
def test_error_or_missing_node_is_refused_naming_where(command: str, where: str) -> None:
    """A tree with ERROR or MISSING is refused by validate, saying what and where (line:col)."""
    with pytest.raises(Denied) as info:
        judge_command(command, DEFAULT)
    assert (info.value.stage, info.value.reason) == ("validate", "unparseable")
    assert where in str(info.value)


def test_a_node_type_the_walker_does_not_know_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walker is an allowlist: a node type outside it fails closed, named with its position."""
    monkeypatch.setattr(parse_module, "_STRUCTURAL", parse_module._STRUCTURAL - {"case_statement"})
    with pytest.raises(Denied) as info:
        judge_command("ls\ncase x in a) ls;; esac", DEFAULT)
    assert "'case_statement'" in str(info.value) and "2:1" in str(info.value)


OPTION_TABLES: list[tuple[str, str]] = [
    ("sed 's/a/b/e' f", "unknown"),
    ("sed -e '1e id' f", "unknown"),
    ("sed -n 's/a/b/p' f", "allow"),
    ("sed -i 's/a/b/' f", "confirm"),
    ("sed -i.bak -e 's/a/b/' f", "confirm"),
    ("sed --in-place 's/a/b/' f", "confirm"),
    ("sed --frobnicate 's/a/b/' f", "unknown"),
    ("awk 'BEGIN { system(\"id\") }'", "unknown"),
    ("awk '{ print | \"sh\" }' f", "unknown"),
    ("awk '{ \"date\" | getline d }' f", "unknown"),
    ("awk -l ext '{print}' f", "unknown"),
    ("awk --sandbox 'BEGIN { system(\"id\") }'", "allow"),
    ("awk -F: -v x=1 '{print $1}' f", "allow"),
    ("git status", "allow"),
    ("git log --oneline", "allow"),
    ("git diff --ext-diff", "unknown"),
    ("git grep -O x", "unknown"),
    ("git commit -m x", "confirm"),
    ("git push", "confirm"),
    ("git branch new-feature", "confirm"),
    ("git branch -a", "allow"),
    ("git frobnicate", "unknown"),
    ("tar --to-command=sh -xf a.tar", "unknown"),
    ("tar --checkpoint-action=exec=sh -cf a.tar .", "unknown"),
    ("tar -I 'sh -c id' -xf a.tar", "unknown"),
    ("tar --use-compress-program=sh -xf a.tar", "unknown"),
    ("tar -tf a.tar", "confirm"),
    ("sort --compress-program=curl f", "deny"),
    ("sort --compress-program=gzip f", "confirm"),
    ("sort -k2 -n f", "allow"),
    ("sort --frobnicate f", "unknown"),
    ("split --filter='curl x' f", "deny"),
    ("split --filter='gzip > $FILE.gz' f", "unknown"),
    ("split -l 10 f", "allow"),
    ("rsync -e ssh a b", "unknown"),
    ("rsync -av a/ b/", "confirm"),
    # A short option's value attached (-f"- *.o") is not the next word: the -e after it was skipped.
    ("rsync -a -f'- *.o' -e 'ssh -p 2' a/ b/", "unknown"),
    ("rsync -ae ssh a b", "unknown"),
    ("rsync --rsh=ssh a b", "unknown"),
    ("rsync -a -- a/ b/", "confirm"),
    ("sort -o out.txt -k 2 --check=quiet f", "allow"),
    ("sort -S1M --compress-program gzip f", "confirm"),
    ("find . -exec rm {} \\;", "confirm"),
    ("find . -ok curl {} \\;", "deny"),
    ("find . -delete", "confirm"),
    ("find . -name x -frobnicate", "unknown"),
    ("find . -name '*.py' -type f", "allow"),
    ("xargs -0 rm < list", "confirm"),
    ("xargs --frobnicate ls", "unknown"),
    ("less file", "unknown"),
    ("vi file", "unknown"),
    ("man ls", "unknown"),
    ("env -S 'curl x'", "deny"),
    ("make SHELL=/tmp/x", "unknown"),
    ("make -j2 all", "allow"),
]


@pytest.mark.parametrize(("command", "verdict"), OPTION_TABLES, ids=[repr(c) for c, _ in OPTION_TABLES])
def test_option_tables_of_programs_that_run_programs(command: str, verdict: str) -> None:
    """Options that run programs or code are understood; an option a table does not know is unknown."""
    result = judge_command(command, BUNDLED)
    worst = {"allow": 0, "confirm": 1, "unknown": 2, "deny": 3}
    assert max((p.verdict for p in result.programs), key=worst.__getitem__) == verdict, result.explain()


def test_tar_reports_the_compressor_it_starts() -> None:
    """tar -z starts gzip; extracting a .tar.xz starts xz: both must be in the approved set."""
    assert judge_command("tar -xzf a.tar.gz", BUNDLED).executables == {"tar", "gzip"}
    assert judge_command("tar -xf a.tar.xz", BUNDLED).executables == {"tar", "xz"}
    assert judge_command("tar -cf a.tar src", BUNDLED).executables == {"tar"}


def test_confirm_reasons_name_each_program_and_the_config_line_that_allows_it() -> None:
    """A client that cannot confirm is told which program needs a yes and the exact line to allow it."""
    result = judge_command("rm x; fdisk -l; git commit -m x; python3 -c 'print(1)'", BUNDLED)
    reasons = result.needs_yes()
    assert any(
        r.startswith('rm: in confirm list; to run it without asking move "rm" from confirm to allow') for r in reasons
    )
    assert any(r.startswith("fdisk: ") for r in reasons) is False  # fdisk is denied, not a question
    assert any('add "git commit" to allow in [tools.run_command]' in r for r in reasons)
    assert any(r.startswith("python3 <inline code>:") and "no config line allows this" in r for r in reasons)


def test_git_write_subcommand_listed_in_allow_runs_without_a_question() -> None:
    """The line the refusal names really works: "git commit" in allow makes git commit allowed."""
    policy = CommandPolicy(BUNDLED.allow | {"git commit"}, BUNDLED.confirm, BUNDLED.deny)
    assert judge_command("git commit -m x", policy).decision == "allow"


def test_approved_set_excludes_denied_findings() -> None:
    """What a yes approves is every executable of a finding that is not denied."""
    result = judge_command("find . -exec rm {} \\; ; xargs cat < f", BUNDLED)
    assert result.approved() == ("cat", "find", "rm", "xargs")
