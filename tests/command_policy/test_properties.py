"""Property tests: no spelling of a denied program's name gets past the policy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from secure_mcp.command_policy import judge_command
from secure_mcp.errors import Denied
from tests.command_policy.support import DEFAULT
from tests.properties import examples

DENIED = sorted(DEFAULT.deny)


def _quote_char(char: str, style: int) -> str:
    return [char, f"'{char}'", f'"{char}"', f"\\{char}", f"$'\\x{ord(char):02x}'", f"$'{char}'", f"{char}''"][style]


@st.composite
def spelled(draw: st.DrawFn) -> str:
    """A denied name with each letter quoted or escaped at random, maybe under a path."""
    name = draw(st.sampled_from(DENIED))
    word = "".join(_quote_char(c, draw(st.integers(0, 6))) for c in name)
    prefix = draw(st.sampled_from(["", "/bin/", "/usr/bin/", "./", "/tmp/x/", "../", "/usr/local/sbin/"]))
    return prefix + word


@st.composite
def placed(draw: st.DrawFn) -> str:
    """The spelled name placed in a random command context, with random spacing."""
    word = draw(spelled())
    space = draw(st.sampled_from([" ", "  ", "\t", " \\\n "]))
    template = draw(
        st.sampled_from(
            [
                "{w}{s}x",
                "ls |{s}{w}",
                "ls;{s}{w}",
                "ls\n{w}",
                "echo $({w}{s}x)",
                "echo `{w}`",
                "cat <({w})",
                "({s}{w}{s})",
                "{{ {w}; }}",
                "env{s}{w}",
                "xargs{s}{w}",
                "nice -n 1{s}{w}",
                "find . -exec {w} {{}} \\;",
                "if true; then {w}; fi",
                "f() {{ {w}; }}; f",
                "A=1{s}{w}",
                "bash -c '{w}'",
                "timeout 5 {w}",
            ]
        )
    )
    return template.format(w=word, s=space)


@settings(max_examples=examples(400), deadline=None)
@given(placed())
def test_quoted_escaped_or_pathed_denied_program_is_never_allowed(command: str) -> None:
    """Quoting, escaping, spacing and path variations of a denied program never yield ``allow``."""
    try:
        decision = judge_command(command, DEFAULT).decision
    except Denied as refused:  # refusing an unreadable spelling is as good as denying it
        assert refused.reason == "unparseable"
        return
    assert decision != "allow", command


@settings(max_examples=examples(200), deadline=None)
@given(spelled())
def test_bare_spelled_denied_program_is_denied(word: str) -> None:
    """Whatever its quoting or directory, a denied program in command position is denied outright."""
    assert judge_command(word + " x", DEFAULT).decision == "deny", word


@st.composite
def delimiter(draw: st.DrawFn) -> tuple[str, bool]:
    """``EOF`` spelled with random quoting of each letter (or an empty quoted part); quoted or not."""
    parts = []
    quoted = False
    for char in "EOF":
        style = draw(st.integers(0, 4))
        quoted = quoted or style > 0
        parts.append([char, f"'{char}'", f'"{char}"', f"\\{char}", f'""{char}'][style])
    return "".join(parts), quoted


@settings(max_examples=examples(300), deadline=None)
@given(delimiter(), st.booleans(), st.sampled_from(["$(mount x)", "`mount x`", "${y:-$(mount x)}", "$((1+$(mount)))"]))
def test_here_document_body_is_inert_exactly_when_the_delimiter_is_quoted(
    spelled: tuple[str, bool], dash: bool, substitution: str
) -> None:
    """Any quoting of any part of the delimiter makes the body text; unquoted, its substitutions run.
    Either way the body ends at the line EOF and the command after it is judged."""
    word, quoted = spelled
    tabs = "\t" if dash else ""
    command = f"cat <<{'-' if dash else ''}{word} > out.txt\n{tabs}x {substitution}\n{tabs}EOF\nls"
    decision = judge_command(command, DEFAULT)
    assert decision.decision == ("allow" if quoted else "deny"), command
    assert "ls" in {p.program for p in decision.programs}
    trailing = judge_command(command[: -len("ls")] + "mount y", DEFAULT)
    assert trailing.decision == "deny"


ALLOWED_EXTERNAL = ["grep", "sort", "head", "wc", "cat", "find", "diff"]


@settings(max_examples=examples(300), deadline=None)
@given(
    st.sampled_from(ALLOWED_EXTERNAL),
    st.lists(st.integers(0, 4), min_size=6, max_size=6),
    st.sampled_from(["{w} x", "ls | {w} x", "env {w} x", "xargs {w} < f", "timeout 5 {w} x", "echo $({w} x)"]),
)
def test_every_spelling_of_a_program_is_reported_as_the_name_bash_looks_up(
    name: str, styles: list[int], template: str
) -> None:
    """However a program's name is quoted, the executables name it as bash will look it up."""
    word = "".join(
        _quote_char(c, styles[i % len(styles)] if styles[i % len(styles)] < 5 else 0) for i, c in enumerate(name)
    )
    decision = judge_command(template.format(w=word), DEFAULT)
    assert name in decision.executables, (word, decision.executables)
    assert decision.decision == "allow"
