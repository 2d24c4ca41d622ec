"""Hypothesis strategies for generated bash commands that know what they will execve.

``commands()`` draws ``(command, executables)``: a command built from pipelines, lists, groups,
loops, ``case``, ``[[ ]]``, ``(( ))``, substitutions, here-documents (quoted and not), functions and
wrappers around harmless programs of the sandbox image, and the exact set of programs bash would
execve for it (builtins run by the shell are none; the same names under ``env``, ``nice``,
``timeout``, ``xargs`` or ``find -exec`` are programs). The policy must report exactly that set
(test_generated.py); the sandbox differential of issue 14 can run the same commands with the
tracer in report mode and check that every program it saw is in the reported set.
"""

from __future__ import annotations

from hypothesis import strategies as st

# Harmless programs of the image, run with harmless arguments; none reads stdin without an input.
EXTERNAL = {
    "ls": "ls -d .",
    "cat": "cat /dev/null",
    "grep": "grep -c x /dev/null",
    "sort": "sort /dev/null",
    "wc": "wc -c /dev/null",
    "head": "head -c 0 /dev/null",
    "seq": "seq 2",
    "basename": "basename /a/b",
    "dirname": "dirname /a/b",
    "uname": "uname -s",
    "date": "date +%s",
}
BUILTIN = {"echo": "echo hi", "printf": "printf x", "true": "true", "test": "test -n x"}
Generated = tuple[str, frozenset[str]]


def _spelled(name: str, style: int) -> str:
    """The program name with quoting bash removes before it looks the name up."""
    return [name, f"'{name}'", f'"{name}"', f"\\{name}", f"{name[0]}''{name[1:]}", f"$'{name}'"][style]


@st.composite
def simple(draw: st.DrawFn) -> Generated:
    """One simple command: an external program or a builtin, maybe spelled with quotes."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(EXTERNAL)))
        argv = EXTERNAL[name]
        runs = frozenset({name})
    else:
        name = draw(st.sampled_from(sorted(BUILTIN)))
        argv = BUILTIN[name]
        runs = frozenset()
    return _spelled(name, draw(st.integers(0, 5))) + argv[len(name) :], runs


@st.composite
def wrapped(draw: st.DrawFn) -> Generated:
    """A simple command under a wrapper that execve's it: builtin names become programs too."""
    name = draw(st.sampled_from(sorted(EXTERNAL | BUILTIN)))
    argv = {**EXTERNAL, **BUILTIN}[name]
    wrapper, started = draw(
        st.sampled_from(
            [
                ("env {c}", {"env"}),
                ("env FOO=1 {c}", {"env"}),
                ("nice -n 1 {c}", {"nice"}),
                ("timeout 5 {c}", {"timeout"}),
                ("echo | xargs {c}", {"xargs"}),
                ("find /dev/null -maxdepth 0 -exec {c} \\;", {"find"}),
                ("command {c}", set()),
                ("time {c}", set()),
            ]
        )
    )
    runs = {name} if started or name in EXTERNAL else set()
    return wrapper.format(c=argv), frozenset(started | runs)


def _compound(children: st.SearchStrategy[Generated]) -> st.SearchStrategy[Generated]:
    pair = st.tuples(children, children)
    leaves = st.one_of(simple(), wrapped())
    return st.one_of(
        pair.map(lambda p: (f"{p[0][0]} | {p[1][0]}", p[0][1] | p[1][1])),
        pair.map(lambda p: (f"{p[0][0]} && {p[1][0]}", p[0][1] | p[1][1])),
        pair.map(lambda p: (f"{p[0][0]}; {p[1][0]}", p[0][1] | p[1][1])),
        pair.map(lambda p: (f"{p[0][0]} || {p[1][0]}", p[0][1] | p[1][1])),
        pair.map(lambda p: (f"if {p[0][0]}; then {p[1][0]}; fi", p[0][1] | p[1][1])),
        children.map(lambda c: (f"( {c[0]} )", c[1])),
        children.map(lambda c: (f"{{ {c[0]}; }}", c[1])),
        children.map(lambda c: (f'echo "$( {c[0]} )"', c[1])),
        leaves.map(lambda c: (f"echo `{c[0]}`", c[1])),  # unescaped backticks do not nest
        children.map(lambda c: (f"for i in 1 2; do {c[0]}; done", c[1])),
        children.map(lambda c: (f"for ((i = 0; i < 2; i++)); do {c[0]}; done", c[1])),
        children.map(lambda c: (f"case x in x) {c[0]} ;; *) true ;; esac", c[1])),
        children.map(lambda c: (f"[[ -n x ]] && {c[0]}", c[1])),
        children.map(lambda c: (f"(( 1 + 1 )) && {c[0]}", c[1])),
        children.map(lambda c: (f"f() {{ {c[0]}; }}; f", c[1])),
        # here-documents hold leaves only: a nested one with the same delimiter would end the outer
        leaves.map(lambda c: (f"{{ cat <<EOF\n$( {c[0]} )\nEOF\n}}", c[1] | {"cat"})),
        leaves.map(lambda c: (f"{{ cat <<'EOF'\n$( {c[0]} )\nEOF\n}}", frozenset({"cat"}))),
        children.map(lambda c: (f"cat <(  {c[0]} )", c[1] | {"cat"})),
        children.map(lambda c: (f"{c[0]} &> /dev/null", c[1])),
    )


def commands() -> st.SearchStrategy[Generated]:
    """A generated command and the exact programs bash would execve for it."""
    return st.recursive(st.one_of(simple(), wrapped()), _compound, max_leaves=6)
