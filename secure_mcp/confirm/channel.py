"""How a question reaches the person through the client: one channel per protocol era.

Two modes of elicitation: form (the question and a yes/no form, answered in the client) and URL
(the client only opens the approval console's page for this call; the answer is given there,
never through the client). The confirm stage decides which to use and races them with the console.

- 2025-11-25 (handshake era): an ``elicitation/create`` request sent mid-call over the session's
  back-channel, bounded by ``[confirmation] timeout_s``.
- 2026-07-28 (stateless era): no server-initiated requests exist. The call returns an
  ``InputRequiredResult`` holding the question; the client retries the same call with the answer
  and our ``requestState``. The SDK seals that state (AES-GCM) and binds it to the method, the tool,
  a digest of the arguments and the principal, so an approval cannot be replayed onto other
  arguments; inside it we keep the digest of the exact question, the call id and when it was asked.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Protocol

import anyio
from mcp import MCPError
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import AcceptedElicitation, Context, DeclinedElicitation
from mcp.types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
)
from mcp_types.version import is_version_at_least
from pydantic import ValidationError

from secure_mcp.confirm.approval import Answer, Approval

_MODERN = "2026-07-28"
_KEY = "secure_mcp_confirm"
_URL_KEY = "secure_mcp_console"
_STATE_VERSION = 1


class InputRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The 2026-07-28 way to ask: end this round with the question; the client retries with the answer."""

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


class ConfirmationChannel(Protocol):
    """Asks one question and returns the person's answer (or raises ``InputRequired``)."""

    @property
    def can_ask(self) -> bool: ...

    def continuation(self) -> dict[str, Any] | None:
        """The state of an earlier round of this same call, when this is a retry."""
        ...

    async def ask(self, call_id: str, question: str, timeout_s: float) -> Answer: ...

    @property
    def can_open_url(self) -> bool:
        """The client declared URL-mode elicitation: it can send a person to the console."""
        ...

    async def ask_url(
        self, call_id: str, question: str, url: str, elicitation_id: str, timeout_s: float
    ) -> Answer | None:
        """Send the person to ``url``. None: the client opened it (wait for the console); else its refusal."""
        ...

    async def completed(self, elicitation_id: str) -> None:
        """Tell the client the out-of-band interaction is over (2025-11-25 only)."""
        ...

    async def progress(self, done: float, total: float | None, message: str) -> None:
        """A progress notification for this call (a no-op when the client asked for none)."""
        ...

    def remember(self, digest: str) -> None:
        """A question of this call (its digest) was answered yes, by any channel: a later round of
        the same call (2026-07-28 retries) carries it in the sealed state and is not asked it again."""
        ...


def question_digest(question: str) -> str:
    return hashlib.sha256(question.encode()).hexdigest()


def _has_form_elicitation(context: Context[Any, Any]) -> bool:
    caps = context.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` predates modes and means form support; url-only does not.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _has_url_elicitation(context: Context[Any, Any]) -> bool:
    caps = context.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and elicitation.url is not None


async def _report(context: Context[Any, Any], done: float, total: float | None, message: str) -> None:
    try:
        await context.report_progress(done, total, message)
    except Exception:  # noqa: S110 - progress is best effort; a broken client must not break the decision
        pass


def _answer_from(result: ElicitResult) -> Answer:
    if result.action == "decline":
        return Answer("decline")
    if result.action == "cancel":
        return Answer("cancel")
    try:
        approval = Approval.model_validate(result.content or {})
    except ValidationError:
        return Answer("malformed")
    return Answer("accept", approved=approval.approve, reason=approval.reason or None)


class NoChannel:
    """A connection that cannot carry elicitation at all (in-process calls without a session)."""

    can_ask = False

    def continuation(self) -> dict[str, Any] | None:
        return None

    async def ask(self, call_id: str, question: str, timeout_s: float) -> Answer:
        return Answer("client_error")

    can_open_url = False

    async def ask_url(
        self, call_id: str, question: str, url: str, elicitation_id: str, timeout_s: float
    ) -> Answer | None:
        return Answer("client_error")

    async def completed(self, elicitation_id: str) -> None:
        return None

    async def progress(self, done: float, total: float | None, message: str) -> None:
        return None

    def remember(self, digest: str) -> None:
        return None  # one round per call in this era: nothing to carry


class LegacyChannel:
    """2025-11-25: ``elicitation/create`` over the back-channel, mid-call."""

    def __init__(self, context: Context[Any, Any]) -> None:
        self._context = context

    @property
    def can_ask(self) -> bool:
        session = self._context.request_context.session
        return bool(getattr(session, "can_send_request", False)) and _has_form_elicitation(self._context)

    def continuation(self) -> dict[str, Any] | None:
        return None

    async def ask(self, call_id: str, question: str, timeout_s: float) -> Answer:
        with anyio.move_on_after(timeout_s):
            try:
                result = await self._context.elicit(question, Approval)
            except ValueError:
                return Answer("malformed")
            except MCPError:
                return Answer("client_error")
            if isinstance(result, AcceptedElicitation):
                approval = result.data
                return Answer("accept", approved=approval.approve, reason=approval.reason or None)
            if isinstance(result, DeclinedElicitation):
                return Answer("decline")
            return Answer("cancel")
        return Answer("timeout")

    @property
    def can_open_url(self) -> bool:
        session = self._context.request_context.session
        return bool(getattr(session, "can_send_request", False)) and _has_url_elicitation(self._context)

    async def ask_url(
        self, call_id: str, question: str, url: str, elicitation_id: str, timeout_s: float
    ) -> Answer | None:
        with anyio.move_on_after(timeout_s):
            try:
                result = await self._context.elicit_url(question, url, elicitation_id)
            except MCPError:
                return Answer("client_error", channel="url")
            if result.action == "accept":
                return None
            return Answer("decline" if result.action == "decline" else "cancel", channel="url")
        return Answer("timeout", channel="url")

    async def completed(self, elicitation_id: str) -> None:
        try:
            await self._context.request_context.session.send_elicit_complete(
                elicitation_id, related_request_id=self._context.request_id
            )
        except Exception:  # noqa: S110 - a notification the client may not want; the decision stands
            pass

    async def progress(self, done: float, total: float | None, message: str) -> None:
        await _report(self._context, done, total, message)

    def remember(self, digest: str) -> None:
        return None  # one round per call in this era: nothing to carry


class ModernChannel:
    """2026-07-28: the question travels in an ``InputRequiredResult``; the answer in the retry."""

    def __init__(self, context: Context[Any, Any], clock: Any = time.time) -> None:
        self._context = context
        self._clock = clock
        self._state = self._decode(context.request_state)
        self._approved_now: list[str] = []

    @staticmethod
    def _decode(raw: str | None) -> dict[str, Any] | None:
        if not raw:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(state, dict) or state.get("v") != _STATE_VERSION:
            return None
        if not isinstance(state.get("call_id"), str) or not isinstance(state.get("q"), str):
            return None
        if not isinstance(state.get("asked_at"), int | float):
            return None
        approved = state.get("approved", [])
        if not isinstance(approved, list) or not all(isinstance(item, str) for item in approved):
            return None
        return state

    @property
    def can_ask(self) -> bool:
        return _has_form_elicitation(self._context)

    def continuation(self) -> dict[str, Any] | None:
        return self._state

    async def ask(self, call_id: str, question: str, timeout_s: float) -> Answer:
        digest = question_digest(question)
        state = self._state
        responses = self._context.input_responses or {}
        if state is not None and state["q"] == digest and _KEY in responses:
            if self._clock() - float(state["asked_at"]) > timeout_s:
                return Answer("timeout")
            response = responses[_KEY]
            if not isinstance(response, ElicitResult):
                return Answer("malformed")
            answer = _answer_from(response)
            if answer.outcome == "accept" and answer.approved:
                self._approved_now.append(digest)  # a later question of this call carries it forward
            return answer
        # First round, or the question changed since it was asked (e.g. the file behind a diff
        # changed): ask again, so a yes only ever covers the exact text the person saw.
        request = ElicitRequest(
            params=ElicitRequestFormParams(message=question, requested_schema=render_elicitation_schema(Approval))
        )
        approved = [*(state or {}).get("approved", []), *self._approved_now][-8:]
        new_state = {"v": _STATE_VERSION, "call_id": call_id, "q": digest, "asked_at": self._clock()}
        if approved:
            new_state["approved"] = approved  # questions of this same call already answered yes
        raise InputRequired(InputRequiredResult(input_requests={_KEY: request}, request_state=json.dumps(new_state)))

    @property
    def can_open_url(self) -> bool:
        return _has_url_elicitation(self._context)

    async def ask_url(
        self, call_id: str, question: str, url: str, elicitation_id: str, timeout_s: float
    ) -> Answer | None:
        digest = question_digest(question + "\n" + url)
        state = self._state
        responses = self._context.input_responses or {}
        if state is not None and state["q"] == digest and _URL_KEY in responses:
            if self._clock() - float(state["asked_at"]) > timeout_s:
                return Answer("timeout", channel="url")
            response = responses[_URL_KEY]
            if not isinstance(response, ElicitResult):
                return Answer("malformed", channel="url")
            if response.action == "accept":
                return None
            return Answer("decline" if response.action == "decline" else "cancel", channel="url")
        request = ElicitRequest(params=ElicitRequestURLParams(message=question, url=url, elicitation_id=elicitation_id))
        new_state = {"v": _STATE_VERSION, "call_id": call_id, "q": digest, "asked_at": self._clock()}
        raise InputRequired(
            InputRequiredResult(input_requests={_URL_KEY: request}, request_state=json.dumps(new_state))
        )

    async def completed(self, elicitation_id: str) -> None:
        return None  # 2026-07-28 has no server-to-client notifications for this: the retry carries on

    async def progress(self, done: float, total: float | None, message: str) -> None:
        await _report(self._context, done, total, message)

    def remember(self, digest: str) -> None:
        if digest not in self._approved_now:
            self._approved_now.append(digest)


def channel_for(context: Context[Any, Any] | None) -> ConfirmationChannel:
    """The channel matching the era the client negotiated for this request."""
    if context is None:
        return NoChannel()
    version = context.protocol_version
    if version is not None and is_version_at_least(version, _MODERN):
        return ModernChannel(context)
    return LegacyChannel(context)
