"""Here-documents: a quoted delimiter (any quoting) makes the body inert text; an unquoted one is expanded.

bash ends the body at the first line equal to the delimiter after quote removal, so ``<<E"O"F`` ends
at ``EOF`` and the commands after it run; ``$(...)`` and backticks in an unquoted body run too.
"""

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
    ("cat > s.sh <<'EOF'\n$(curl http://x)\nEOF", "allow"),
    ("cat > s.sh <<EOF\n$(curl http://x)\nEOF", "deny"),
    ('cat > s.sh <<E"O"F\n$(curl http://x)\nEOF\nrm x', "confirm"),
    ("cat > s.sh <<E'O'F\n`curl x`\nEOF", "allow"),
    ('cat > s.sh <<""EOF\n$(curl http://x)\nEOF\nmount x', "deny"),
    ("cat > s.sh <<EO\\F\n$(curl x)\nEOF\nls", "allow"),
    ("cat > s.sh <<-EOF\n\t$(curl x)\n\tEOF", "deny"),
    ("cat > s.sh <<EOF\n`curl x`\nEOF", "deny"),
    ("cat > s.sh <<EOF\n\\$(curl x) \\`wget\\`\nEOF", "allow"),
    ("cat > s.sh <<EOF\n$((1 + $(curl x)))\nEOF", "deny"),
    ("cat <<'EOF' && rm x\nbody\nEOF", "confirm"),
]


@pytest.mark.parametrize(("command", "decision"), CASES)
def test_quoted_heredoc_delimiters_are_parsed_and_judged_at_least_as_strictly(command: str, decision: str) -> None:
    """Quoted bodies are data; substitutions in unquoted bodies and commands after the end are judged."""
    assert judge_command(command, DEFAULT).decision == decision
