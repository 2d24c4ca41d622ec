"""An unknown argument's name never comes back in a refusal nor reaches the audit log (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from pydantic import ValidationError

from secure_mcp.stages.validate import describe_errors
from secure_mcp.testing import MemoryAuditSink
from tests.support import ProbeArgs, make_config, probe_spec, runtime

SECRET = "Qm7Xv2Lr9Kt4"
OTHER = "Zr8Wp3Nc6Hy1"  # a bare name nothing can recognise as a secret


def _error(raw: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        ProbeArgs.model_validate(raw)
    return caught.value


def test_an_unknown_name_is_not_repeated_even_when_nothing_marks_it_secret() -> None:
    """A bare random name is withheld: the redactor could not know it is a secret."""
    message = describe_errors(_error({"name": "a", SECRET: "x"}), ProbeArgs)
    assert SECRET not in message
    assert "unexpected argument" in message
    assert "accepted: name, note" in message


def test_a_typo_gets_a_suggestion_from_the_schema_not_an_echo() -> None:
    """The helpful part of echoing the name survives: the closest real argument is named."""
    message = describe_errors(_error({"nmae": "a"}), ProbeArgs)
    assert "'nmae'" not in message
    assert "did you mean 'name'?" in message


def test_user_supplied_keys_inside_a_location_are_withheld() -> None:
    """Only declared field names appear in an error's location, never keys the caller chose."""
    message = describe_errors(_error({"name": {SECRET: 1}}), ProbeArgs)
    assert SECRET not in message
    assert message.startswith("'name': ")


@pytest.mark.anyio
async def test_refusal_text_and_every_audit_record_hide_a_secret_sent_as_an_argument_name(tmp_path: Path) -> None:
    """`password=Qm7...` as a name: masked in the reply, the refused record and every other record."""
    sink = MemoryAuditSink()
    tools = {"probe": probe_spec(tmp_path)}
    async with runtime(make_config(tmp_path), tools=tools, sink=sink) as rt:
        async with Client(rt.server) as c:
            result = await c.call_tool("probe", {"name": "a", f"password={SECRET}": "1", OTHER: "2"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and text.startswith("blocked by validate: unexpected argument")
    assert SECRET not in text and OTHER not in text
    refused = sink.events("refused")
    assert len(refused) == 1 and refused[0]["stage"] == "validate"
    assert SECRET not in str(refused[0]) and OTHER not in str(refused[0])
    assert SECRET not in str(sink.events("call_received"))
    assert not (tmp_path / "a").exists()
