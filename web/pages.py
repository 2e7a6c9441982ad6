"""Server-rendered Dutch pages: sign-in, vacancies, one vacancy, the P&O dashboard, users."""

import math
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from models import get_engine
from procedures.access import ROLE_LABELS, ROLES, Principal, may
from procedures.accounts import authenticate, create_user, user_rows
from procedures.errors import IdflowError
from procedures.queries import directorate_choices, find_procedures
from procedures.sessions import (
    Backoff,
    blocked_for,
    clear_failures,
    end_session,
    forget_old_sessions,
    record_failure,
    start_session,
)
from web.deps import Allow, begin_session, check_csrf, csrf_token, local_path, unit
from web.oidc import sign_out_url
from web.service import send_event, visible_detail
from web.views import (
    dashboard_context,
    event_data,
    open_fields,
    roll_up_now,
    text_check_view,
    vacancy_context,
)

router = APIRouter(include_in_schema=False)
LOGIN_FAILED = "Onbekende gebruikersnaam of onjuist wachtwoord."
LOGIN_BLOCKED = (
    "Te veel mislukte aanmeldpogingen met deze naam vanaf dit adres. Probeer het over {wait} "
    "opnieuw."
)
HOME = {"recruiter": "/vacatures", "pno": "/dashboard", "auditor": "/dashboard", "admin": "/beheer"}
LOCAL_OFF = (
    "Aanmelden met gebruikersnaam en wachtwoord staat op deze installatie uit; meld u aan met "
    "de knop op deze pagina."
)


def render(
    request: Request, name: str, context: dict[str, Any], who: Principal | None, status: int = 200
) -> Response:
    """A page with the signed-in user, the CSRF token, the nav and any flash message."""
    base = {"who": who, "csrf": csrf_token(request), "may": may, "role_labels": ROLE_LABELS}
    base["flash"] = request.session.pop("flash", None)
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, base | context, status_code=status)


def redirect(url: str, flash: str | None = None, request: Request | None = None) -> Response:
    if flash and request is not None:
        request.session["flash"] = flash
    return RedirectResponse(url, status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_page(request, next, "", None, 200)


def _login_page(
    request: Request, next: str, username: str, error: str | None, status: int
) -> Response:
    """The sign-in page, with the ways of signing in that IDFLOW_AUTH offers."""
    context = {"next": local_path(next), "username": username, "error": error}
    context |= {"methods": request.app.state.sign_in}
    context["provider_label"] = request.app.state.settings.oidc_provider_label
    return render(request, "login.html", context, None, status)


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    csrf: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    if "local" not in request.app.state.sign_in:
        return _login_page(request, next, "", LOCAL_OFF, 403)
    key, error, status = _sign_in(request, username, password)
    if key is None:
        return _login_page(request, next, username, error, status)
    begin_session(request, key)
    return redirect(local_path(next))


def _sign_in(request: Request, username: str, password: str) -> tuple[str | None, str, int]:
    """(session key, "", 303) or (None, the one Dutch refusal, status); counts failures.

    A name blocked at this address is refused without checking the password, and the
    refusal does not count: only failures make the wait longer."""
    settings, address, now = request.app.state.settings, _client(request), datetime.now(UTC)
    with unit(request) as session:
        wait = blocked_for(session, username, address, now)
        if wait:
            return None, LOGIN_BLOCKED.format(wait=_wait_text(wait)), 429
        user = authenticate(session, username, password)
        if user is None or user.id is None:
            record_failure(session, username, address, now, _backoff(settings))
            return None, LOGIN_FAILED, 401
        clear_failures(session, username, address)
        forget_old_sessions(session, now, settings.session_idle_s, settings.session_max_age_s)
        return start_session(session, user.id, now), "", 303


def _wait_text(seconds: float) -> str:
    if seconds < 60:
        return f"{math.ceil(seconds)} seconden"
    minutes = math.ceil(seconds / 60)
    return "1 minuut" if minutes == 1 else f"{minutes} minuten"


def _backoff(settings: Any) -> Backoff:
    return Backoff(
        free=settings.login_max_failures,
        base_s=settings.login_backoff_base_s,
        cap_s=settings.login_backoff_max_s,
        forget_s=settings.login_window_s,
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "onbekend"


@router.post("/logout")
async def logout(request: Request, who: Principal = Depends(Allow("signed_in"))) -> Response:
    """End this session, then, for a session from the identity provider, sign out there too."""
    key = request.session.get("sid")
    id_token = await run_in_threadpool(_end_session, request, key)
    request.session.clear()
    request.session["flash"] = "U bent afgemeld."
    return redirect(await sign_out_url(request, id_token))


def _end_session(request: Request, key: object) -> str | None:
    if not isinstance(key, str):
        return None
    with unit(request) as session:
        return end_session(session, key)


@router.get("/")
def home(who: Principal = Depends(Allow("signed_in"))) -> Response:
    return redirect(HOME[who.role])


@router.get("/vacatures")
def vacancies(request: Request, who: Principal = Depends(Allow("read"))) -> Response:
    return _vacancies_page(request, who, {}, None, 200)


def _vacancies_page(
    request: Request, who: Principal, typed: dict[str, Any], error: str | None, status: int
) -> Response:
    query = request.query_params
    filters = {k: query.get(k, "") for k in ("directorate", "state", "search")}
    flags = {k: query.get(k) == "1" for k in ("overdue", "awaiting_explanation")}
    overdue_at = datetime.now(UTC) if flags["overdue"] else None
    with unit(request) as session:
        rows = find_procedures(
            session, who.scope, filters["directorate"] or None, filters["state"] or None,
            overdue_at, flags["awaiting_explanation"], filters["search"], 200,
        )  # fmt: skip
        choices = [d for d in directorate_choices(session) if who.sees(d["code"])]
        fields = open_fields(session, choices)
    context: dict[str, Any] = {"rows": rows, "filters": filters, "flags": flags}
    context["directorates"] = choices
    context |= {"open_fields": fields, "typed": typed, "error": error, "now": datetime.now(UTC)}
    context["event_id"] = f"web-{uuid.uuid4()}"  # a double-submitted form is one event
    return render(request, "vacancies.html", context, who, status)


@router.post("/vacatures")
async def open_vacancy(request: Request, who: Principal = Depends(Allow("advance"))) -> Response:
    form = await request.form()
    typed = {k: str(v) for k, v in form.items() if k != "csrf"}
    return await in_thread(request, lambda: _open(request, who, typed))


def _open(request: Request, who: Principal, typed: dict[str, str]) -> Response:
    data = {k: typed.get(k, "").strip() for k in ("directorate", "title", "kind")}
    scale = typed.get("scale", "").strip()
    data["scale"] = int(scale) if scale.isdigit() else scale  # type: ignore[assignment]
    vacancy = typed.get("vacancy", "").strip()
    try:
        with unit(request) as session:
            send_event(session, who, vacancy, "open", data, typed.get("event_id") or None)
    except IdflowError as error:
        return _vacancies_page(request, who, typed, str(error), error.http_status)
    return redirect(f"/vacatures/{quote(vacancy)}", f"Vacature {vacancy} is geopend.", request)


@router.get("/vacatures/{vacancy}")
def vacancy_page(
    vacancy: str, request: Request, who: Principal = Depends(Allow("read"))
) -> Response:
    with unit(request) as session:
        context = vacancy_context(session, visible_detail(session, who, vacancy))
    return render(request, "vacancy.html", context | {"typed": {}, "error": None}, who)


@router.post("/vacatures/{vacancy}")
async def advance_vacancy(
    vacancy: str, request: Request, who: Principal = Depends(Allow("advance"))
) -> Response:
    form = await request.form()
    return await in_thread(request, lambda: _advance(request, who, vacancy, form))


def _advance(request: Request, who: Principal, vacancy: str, form: Any) -> Response:
    event = str(form.get("event", ""))
    version = str(form.get("expected_version", ""))
    try:
        with unit(request) as session:
            detail = visible_detail(session, who, vacancy)
            send_event(
                session, who, vacancy, event, event_data(session, detail, event, form),
                str(form.get("event_id") or "") or None,
                expected_version=int(version) if version.isdigit() else None,
            )  # fmt: skip
    except IdflowError as error:
        with unit(request) as session:
            context = vacancy_context(session, visible_detail(session, who, vacancy))
        typed = {"event": event, "values": {k: form.getlist(k) for k in form}}
        page = context | {"typed": typed, "error": str(error)}
        return render(request, "vacancy.html", page, who, error.http_status)
    return redirect(f"/vacatures/{quote(vacancy)}", "Stap vastgelegd.", request)


@router.post("/vacatures/{vacancy}/tekstcheck")
async def check_vacancy_text(
    vacancy: str, request: Request, who: Principal = Depends(Allow("read"))
) -> Response:
    """The inclusive text check on the text typed in the approval form; stores nothing."""
    form = await request.form()
    return await in_thread(request, lambda: _check_text(request, who, vacancy, form))


def _check_text(request: Request, who: Principal, vacancy: str, form: Any) -> Response:
    text = str(form.get("text") or "")
    with unit(request) as session:
        context = vacancy_context(session, visible_detail(session, who, vacancy))
    typed = {"event": "approve_text", "values": {k: form.getlist(k) for k in form}}
    if not text.strip():
        page = context | {"typed": typed, "error": "Plak eerst de vacaturetekst in het tekstveld."}
        return render(request, "vacancy.html", page, who, 422)
    page = context | {"typed": typed, "error": None, "textcheck": text_check_view(text)}
    return render(request, "vacancy.html", page, who)


async def in_thread(request: Request, action: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(action)


@router.get("/dashboard")
def dashboard(request: Request, who: Principal = Depends(Allow("dashboard"))) -> Response:
    roll_up_now(get_engine(request.app.state.database_url))
    with unit(request) as session:
        context = dashboard_context(session, datetime.now(UTC))
    return render(request, "dashboard.html", context, who)


@router.get("/beheer")
def admin_page(request: Request, who: Principal = Depends(Allow("admin"))) -> Response:
    return _admin_page(request, who, {}, None, 200)


def _admin_page(
    request: Request, who: Principal, typed: dict[str, Any], error: str | None, status: int
) -> Response:
    with unit(request) as session:
        context = {"users": user_rows(session), "directorates": directorate_choices(session)}
    context |= {"roles": ROLES, "typed": typed, "error": error}
    return render(request, "admin.html", context, who, status)


@router.post("/beheer/gebruikers")
async def add_user(request: Request, who: Principal = Depends(Allow("admin"))) -> Response:
    form = await request.form()
    typed: dict[str, Any] = {"username": str(form.get("username", ""))}
    typed["role"] = str(form.get("role", ""))
    typed["directorates"] = [str(d) for d in form.getlist("directorates")]
    return await in_thread(
        request, lambda: _add_user(request, who, typed, str(form.get("password")))
    )


def _add_user(request: Request, who: Principal, typed: dict[str, Any], password: str) -> Response:
    try:
        with unit(request) as session:
            create_user(session, typed["username"], password, typed["role"], typed["directorates"])
    except IdflowError as error:
        return _admin_page(request, who, typed, str(error), error.http_status)
    return redirect("/beheer", f"Gebruiker {typed['username']} is toegevoegd.", request)
