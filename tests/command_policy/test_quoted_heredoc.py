"""Quoted here-document delimiters (`<<'EOF'`), which agents use to write files, are judged, not refused."""

from __future__ import annotations

import pytest

from secure_mcp.command_policy import judge_command
from tests.command_policy.support import DEFAULT

CASES = [
    ("cat > notes.txt <<'EOF'\nrm -rf / is just text here\nEOF", "allow"),
    ('cat > notes.txt <<"EOF"\nsudo is text too\nEOF', "allow"),
    ("cat > notes.txt <<\\EOF\nplain\nEOF", "allow"),
    ("cat <<-'EOF' > t.txt\n\tindented\n\tEOF", "allow"),
    ("cat <<'EOF' | sh\necho hi\nEOF", "confirm"),
    ("cat > s.sh <<'EOF'\n$(curl http://x)\nEOF", "deny"),
    ("cat <<'EOF' && rm x\nbody\nEOF", "confirm"),
]


@pytest.mark.parametrize(("command", "decision"), CASES)
def test_quoted_heredoc_delimiters_are_parsed_and_judged_at_least_as_strictly(command: str, decision: str) -> None:
    """The body of a quoted here-document is data; its substitutions are over-approximated, never missed."""
    assert judge_command(command, DEFAULT).decision == decision
