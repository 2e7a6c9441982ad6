"""Request dependencies: the database, the signed-in principal, permissions and CSRF."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fastapi import Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from models import get_engine, session_scope
from procedures.access import Principal, allowed
from procedures.accounts import principal_of, token_principal
from procedures.sessions import session_user

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotSignedIn(Exception):
    """No valid session or token: pages send the user to sign in, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this."""


class CsrfFailed(Exception):
    """An unsafe request from a session without the matching CSRF token."""


@contextmanager
def unit(request: Request) -> Iterator[Session]:
    """One unit of work on the app's database."""
    with session_scope(get_engine(request.app.state.database_url)) as session:
        yield session


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def begin_session(request: Request, key: str) -> None:
    """A fresh cookie session (and CSRF token) at every sign-in, carrying the session key."""
    request.session.clear()
    request.session["sid"] = key


def local_path(url: str) -> str:
    """``url`` when it is a path on this site, else "/": no redirect elsewhere after sign-in."""
    return url if url.startswith("/") and not url.startswith(("//", "/\\")) else "/"


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse unless ``submitted`` equals the session's token."""
    expected = request.session.get("csrf")
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise CsrfFailed()


def current_principal(request: Request, submitted_csrf: str | None = None) -> Principal:
    """The principal from a Bearer token or the session cookie, or ``NotSignedIn``.

    A session (cookie) request that changes something must carry the CSRF token, in the
    ``X-CSRF-Token`` header or the form field ``csrf``; a token request needs none.
    """
    header = request.headers.get("authorization", "")
    now = datetime.now(UTC)
    with unit(request) as session:
        if header.lower().startswith("bearer "):
            principal = token_principal(session, header[7:].strip(), now)
        else:
            principal = _session_principal(request, session, now)
            if principal is not None and request.method not in SAFE_METHODS:
                check_csrf(request, submitted_csrf)
    if principal is None:
        raise NotSignedIn()
    return principal


def _session_principal(request: Request, session: Session, now: datetime) -> Principal | None:
    key = request.session.get("sid")
    if not isinstance(key, str):
        return None
    settings = request.app.state.settings
    user_id = session_user(session, key, now, settings.session_idle_s, settings.session_max_age_s)
    return principal_of(session, user_id) if user_id is not None else None


class Allow:
    """Dependency: the signed-in principal, if the role holds ``permission``."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and request.method not in SAFE_METHODS and _is_form(request):
            # FastAPI has parsed the form already; Starlette caches it on the request.
            value = (await request.form()).get("csrf")
            submitted = value if isinstance(value, str) else None
        principal = await run_in_threadpool(current_principal, request, submitted)
        if not allowed(principal, self.permission):
            raise Forbidden()
        return principal


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
