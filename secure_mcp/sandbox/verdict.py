"""The tracer's verdict on a finished run, as the refusal every tool gives for it.

One place, so that run_command's copy-on-write path and the plain sandbox path cannot drift: a run
the tracer stopped is a refusal by the sandbox whatever the tool, and a run the runner would not
start under the tracer is a sandbox error (fail closed), never a result.
"""

from __future__ import annotations

import json

from secure_mcp.errors import Denied, SandboxError
from secure_mcp.sandbox.models import SandboxResult


def raise_if_stopped(result: SandboxResult) -> None:
    """Raise the refusal for a run whose tracer stopped a program or refused to start it.

    Raises:
        Denied: ``exec_blocked``: SPEC wording first, then the argv (the pipeline redacts the
            message before the client or the audit log sees it).
        SandboxError: ``exec_tracer``: the runner could not trace the command, so it did not run it.
    """
    if result.blocked is not None:
        argv = json.dumps(list(result.blocked.argv), ensure_ascii=False)
        raise Denied("sandbox", "exec_blocked", f"{result.blocked.program} was started but not approved (argv: {argv})")
    if result.tracer_error is not None:
        raise SandboxError("exec_tracer", f"the command was not run: {result.tracer_error}")
