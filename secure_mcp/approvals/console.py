"""The approval console: a small Starlette app where a person approves or denies pending calls.

Who may use it, and how each request is checked (in this order, every request):
1. Host must be one of the console's own names (loopback names on its port, the bound address,
   the host of ``public_url``): a DNS-rebinding page cannot talk to it.
2. A request carrying ``Authorization`` is refused: an agent's bearer token never signs in here.
3. Identity: a session cookie (HttpOnly, SameSite=Strict) obtained through a one-time sign-in
   link, or, for the CLI, a per-request signed header made from the key in the state folder.
4. Every state-changing request from a browser needs an Origin that is the console's own and the
   session's CSRF token; a decision also names the digest of the exact action the page showed.

Pages are rendered with Jinja2 (autoescaped); the question text reaches the page as JSON and is
put into the DOM with ``textContent`` only, under a CSP that allows no inline script.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from secure_mcp.approvals.desk import ApprovalDesk
from secure_mcp.approvals.keys import verify
from secure_mcp.approvals.store import Decision, PendingDecision

HERE = Path(__file__).parent
COOKIE = "secure_mcp_console"
API_HEADER = "x-secure-mcp-approver"
CSRF_HEADER = "x-csrf-token"
HEARTBEAT_S = 15.0
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",  # a sign-in link must never leave in a Referer header
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}
_templates = Environment(
    loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]), auto_reload=False
)


@dataclass(frozen=True, slots=True)
class Session:
    approver: str
    csrf: str
    expires: float


@dataclass(frozen=True, slots=True)
class Identity:
    approver: str
    channel: str  # "console" (browser session) or "cli" (signed header)
    session: Session | None


class ConsoleAuth:
    """Sign-in links, sessions and the CLI's signed requests."""

    def __init__(self, key: bytes, approvers: tuple[str, ...], session_ttl_s: float) -> None:
        self._key = key
        self._approvers = approvers
        self._session_ttl_s = session_ttl_s
        self._sessions: dict[str, Session] = {}
        self._used_nonces: dict[str, float] = {}

    def allowed(self, approver: str) -> bool:
        return not self._approvers or approver in self._approvers

    def sign_in(self, token: str) -> tuple[str, Session] | None:
        """A new session for a genuine, unused, unexpired sign-in link; None otherwise."""
        now = time.time()
        self._used_nonces = {n: e for n, e in self._used_nonces.items() if e >= now}
        self._sessions = {sid: s for sid, s in self._sessions.items() if s.expires >= now}
        claims = verify(self._key, token, "signin", now)
        if claims is None or claims.nonce in self._used_nonces or not self.allowed(claims.approver):
            return None
        self._used_nonces[claims.nonce] = claims.expires
        sid = secrets.token_urlsafe(32)
        session = Session(claims.approver, secrets.token_urlsafe(32), now + self._session_ttl_s)
        self._sessions[sid] = session
        return sid, session

    def session(self, request: Request) -> Session | None:
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None or session.expires < time.time():
            self._sessions.pop(sid, None)
            return None
        return session

    def sign_out(self, request: Request) -> None:
        self._sessions.pop(request.cookies.get(COOKIE, ""), None)

    def identify(self, request: Request) -> Identity | None:
        header = request.headers.get(API_HEADER)
        if header is not None:
            claims = verify(self._key, header, "api")
            if claims is None or not self.allowed(claims.approver):
                return None
            return Identity(claims.approver, "cli", None)
        session = self.session(request)
        return None if session is None else Identity(session.approver, "console", session)


def own_hosts(host: str, port: int, public_url: str) -> tuple[set[str], set[str]]:
    """(allowed Host header values, allowed Origin values) of a console bound to host:port."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    names.add(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    hosts = {f"{name}:{port}" for name in names}
    origins = {f"http://{h}" for h in hosts}
    if public_url:
        parts = urlsplit(public_url)
        hosts.add(parts.netloc)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return hosts, origins


def _item(pending: PendingDecision) -> dict[str, Any]:
    return pending.public()


async def _state(desk: ApprovalDesk) -> dict[str, Any]:
    pending, recent = await desk.store.snapshot()
    return {"pending": [_item(p) for p in pending], "recent": [_item(r) for r in recent], "now": time.time()}


def build_console(desk: ApprovalDesk, auth: ConsoleAuth, host: str, port: int, public_url: str) -> Starlette:
    """The console's ASGI app, for one bound address."""
    hosts, origins = own_hosts(host, port, public_url)
    secure_cookie = public_url.startswith("https://")

    def refuse(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)

    def precheck(request: Request) -> Response | None:
        if request.headers.get("host", "") not in hosts:
            return refuse(421, "unknown Host")
        if "authorization" in request.headers:
            return refuse(
                401, "agent credentials are not accepted here; approvers sign in with `secure-mcp approvals url`"
            )
        return None

    def origin_ok(request: Request, identity: Identity) -> bool:
        origin = request.headers.get("origin")
        if identity.channel == "cli":
            return origin is None or origin in origins
        if origin is None or origin not in origins:
            return False
        return request.headers.get("sec-fetch-site", "same-origin") == "same-origin"

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    async def index(request: Request) -> Response:
        if (refused := precheck(request)) is not None:
            return refused
        session = auth.session(request)
        if session is None:
            return page("signin.html", 401, message=None)
        state = await _state(desk)
        return page("console.html", approver=session.approver, csrf=session.csrf, state=state)

    async def signin(request: Request) -> Response:
        if (refused := precheck(request)) is not None:
            return refused
        made = auth.sign_in(request.query_params.get("t", ""))
        if made is None:
            return page(
                "signin.html", 403, message="This sign-in link is invalid, expired or already used. Ask for a new one."
            )
        sid, session = made
        response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            sid,
            max_age=int(session.expires - time.time()),
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
            path="/",
        )
        return response

    async def signout(request: Request) -> Response:
        if (refused := precheck(request)) is not None:
            return refused
        identity = auth.identify(request)
        if identity is None or identity.session is None or not origin_ok(request, identity):
            return refuse(403, "not signed in, or not from this page")
        if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), identity.session.csrf):
            return refuse(403, "missing or wrong CSRF token")
        auth.sign_out(request)
        response = JSONResponse({"ok": True}, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def state(request: Request) -> Response:
        if (refused := precheck(request)) is not None:
            return refused
        if auth.identify(request) is None:
            return refuse(401, "sign in first (secure-mcp approvals url)")
        return JSONResponse(await _state(desk), headers=SECURITY_HEADERS)

    async def events(request: Request) -> Response:
        if (refused := precheck(request)) is not None:
            return refused
        if auth.identify(request) is None:
            return refuse(401, "sign in first (secure-mcp approvals url)")

        async def stream() -> Any:
            version = -1
            while True:
                new_version = await desk.store.changed(version, HEARTBEAT_S)
                if new_version == version:
                    yield ": keep-alive\n\n"
                    continue
                version = new_version
                yield f"data: {json.dumps(await _state(desk))}\n\n"
                if await request.is_disconnected():
                    return

        headers = {**SECURITY_HEADERS, "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def decide(request: Request) -> Response:
        if (refused := precheck(request)) is not None:
            return refused
        identity = auth.identify(request)
        if identity is None:
            return refuse(401, "sign in first (secure-mcp approvals url)")
        if not origin_ok(request, identity):
            return refuse(403, "this request did not come from the console page")
        if identity.session is not None and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, ""), identity.session.csrf
        ):
            return refuse(403, "missing or wrong CSRF token")
        try:
            body = await request.json()
            decision_id, digest, verdict = body["id"], body["digest"], body["decision"]
            reason = str(body.get("reason", ""))[:500]
            if not (isinstance(decision_id, str) and isinstance(digest, str) and verdict in ("approve", "deny")):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return refuse(400, "expected JSON {id, digest, decision: approve|deny}")
        result = await desk.store.decide(
            decision_id,
            digest,
            Decision(
                verdict == "approve",
                identity.approver,
                "cli" if identity.channel == "cli" else "console",
                time.time(),
                reason,
            ),
        )
        if isinstance(result, str):
            messages = {
                "unknown": (404, "no such pending call"),
                "already_decided": (409, "this call was already decided"),
                "expired": (409, "this call is no longer waiting for a decision"),
                "digest_mismatch": (409, "the action changed since it was shown; reload and look again"),
            }
            status, message = messages[result]
            return JSONResponse({"error": message, "code": result}, status_code=status, headers=SECURITY_HEADERS)
        return JSONResponse({"ok": True, "item": _item(result)}, headers=SECURITY_HEADERS)

    async def static_guard(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope)
        refused = precheck(request)
        if refused is not None:
            await refused(scope, receive, send)
            return
        await _static(scope, receive, send)

    _static = StaticFiles(directory=str(HERE / "static"))
    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/signin", signin, methods=["GET"]),
            Route("/signout", signout, methods=["POST"]),
            Route("/events", events, methods=["GET"]),
            Route("/api/state", state, methods=["GET"]),
            Route("/api/decide", decide, methods=["POST"]),
            Mount("/static", app=static_guard),
        ]
    )
