"""The JSON API: what the CLI does, for scripts (API token) and the pages' own use."""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from models import get_engine
from procedures.access import Principal, report_refusal
from procedures.accounts import (
    activate_user,
    change_user,
    create_user,
    deactivate_user,
    issue_token,
    revoke_token,
    set_password,
    token_rows,
    user_row,
    user_rows,
)
from procedures.audit import verify_log
from procedures.chart import STATE_LABELS
from procedures.engine import Applied
from procedures.fields import LIMITS
from procedures.organisation import load_organisation, parse_org_csv
from procedures.queries import alert_rows, directorate_choices, find_procedures
from procedures.setup import add_policy, parse_policy
from procedures.snapshots import verify_snapshots, verify_year_reports
from procedures.textcheck import check_text
from web.deps import Allow, unit
from web.problems import PROBLEM_TYPE, UploadTooLarge, problem
from web.service import CONTENT_TYPES, import_upload, report_file, send_event, visible_detail
from workflows.importer import decode_utf8

PROBLEM = {"model": dict, "content": {PROBLEM_TYPE: {}}, "description": "Probleemdetails"}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: PROBLEM | {"description": "Bestand te groot"}}
AT_DESCRIPTION = (
    "Tijdstip in ISO 8601, als tekst (bijv. 2025-01-06T09:30:00+01:00; zonder offset is het "
    "Nederlandse tijd); standaard nu"
)
AT_EXAMPLE = "2025-01-06T09:30:00+01:00"
router = APIRouter(
    prefix="/api",
    responses={
        status: PROBLEM | {"description": d}
        for status, d in ((401, "Niet aangemeld"), (403, "Geen toegang"), (422, "Geweigerd"))
    },
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Strict like every event field (procedures/events.py): "12" is not a scale, true not a count.
class OpenIn(_In):
    vacancy: StrictStr = Field(examples=["VAC-2025-001"])
    directorate: StrictStr = Field(examples=["SOC-OJZ"])
    scale: StrictInt = Field(examples=[12])
    title: StrictStr = Field(max_length=LIMITS["title"], examples=["Teamleider"])
    kind: Literal["internal", "external"] = "external"
    id: StrictStr | None = Field(None, description="Gebeurtenis-id; standaard een nieuw id")
    # Text, checked by the event parser like every other entry point's: a number (or a date
    # type that takes numbers) would be read as Unix time.
    at: str | None = Field(None, description=AT_DESCRIPTION, examples=[AT_EXAMPLE])


class EventBody(_In):
    event: StrictStr = Field(examples=["approve_text"])
    data: dict[str, Any] = Field(default_factory=dict)
    id: StrictStr | None = Field(None, description="Gebeurtenis-id; standaard een nieuw id")
    at: str | None = Field(None, description=AT_DESCRIPTION, examples=[AT_EXAMPLE])
    expected_version: StrictInt | None = None


class TextIn(_In):
    text: StrictStr = Field(
        min_length=1, max_length=LIMITS["text"], examples=["Wij zoeken een jong team..."]
    )


class VacancyOut(BaseModel):
    vacancy: str
    directorate: str
    title: str
    scale: int
    kind: str
    state: str
    state_label: str
    round: int
    due_at: datetime | None
    last_event_at: datetime


class UserIn(_In):
    username: StrictStr
    password: StrictStr
    role: StrictStr
    directorates: list[StrictStr] = Field(default_factory=list)


class UserChange(_In):
    """Only what is given changes; every change ends the user's sessions."""

    role: StrictStr | None = None
    directorates: list[StrictStr] | None = None
    password: StrictStr | None = None


def _applied(result: Applied, response: Response) -> Applied:
    response.status_code = 201 if result.status == "applied" else 200
    return result


def _upload(request: Request, file: UploadFile, command: str) -> bytes:
    """The uploaded file, or ``UploadTooLarge`` (never a silently cut file)."""
    limit = request.app.state.settings.upload_max_bytes
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise UploadTooLarge(
            f"Het bestand is te groot voor een upload (hoogstens {limit} bytes); "
            f"gebruik '{command}'. Er is niets verwerkt."
        )
    return content


@router.get("/vacancies", response_model=list[VacancyOut])
def list_vacancies(
    request: Request,
    who: Principal = Depends(Allow("read")),
    directorate: str | None = None,
    state: str | None = None,
    overdue: bool = False,
    awaiting_explanation: bool = False,
    search: str | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[VacancyOut]:
    """Vacancies in your directorates matching every filter, newest activity first."""
    overdue_at = datetime.now(UTC) if overdue else None
    with unit(request) as session:
        rows = find_procedures(
            session, who.scope, directorate, state, overdue_at, awaiting_explanation, search, limit
        )
        return [VacancyOut(**r.model_dump(), state_label=STATE_LABELS[r.state]) for r in rows]


@router.post("/vacancies", response_model=Applied, status_code=201)
def open_vacancy(
    body: OpenIn, request: Request, response: Response, who: Principal = Depends(Allow("advance"))
) -> Applied:
    """Open a vacancy procedure (scale 12 and up) in one of your directorates."""
    data = body.model_dump(include={"directorate", "scale", "title", "kind"})
    with unit(request) as session:
        result = send_event(session, who, body.vacancy, "open", data, body.id, body.at)
    return _applied(result, response)


@router.get("/vacancies/{vacancy}")
def show_vacancy(
    vacancy: str, request: Request, who: Principal = Depends(Allow("read"))
) -> dict[str, Any]:
    """State, round, outcomes per indicator, history and the events allowed now."""
    with unit(request) as session:
        return visible_detail(session, who, vacancy)


@router.post("/vacancies/{vacancy}/events", response_model=Applied, status_code=201)
def advance_vacancy(
    vacancy: str,
    body: EventBody,
    request: Request,
    response: Response,
    who: Principal = Depends(Allow("advance")),
) -> Applied:
    """Send any event with its data; a repeated id with the same content is a duplicate."""
    with unit(request) as session:
        result = send_event(
            session, who, vacancy, body.event, body.data, body.id, body.at, body.expected_version
        )
    return _applied(result, response)


@router.post("/imports", responses=TOO_LARGE)
def import_file(
    request: Request,
    file: UploadFile = File(..., description="JSON Lines- of CSV-bestand"),
    format: Literal["jsonl", "csv"] | None = Query(None, description="standaard: extensie"),
    who: Principal = Depends(Allow("advance")),
) -> dict[str, Any]:
    """Import events (each atomic); the summary lists refused lines with their reasons."""
    content = _upload(request, file, "idflow import")
    fmt = format or ("csv" if (file.filename or "").lower().endswith(".csv") else "jsonl")
    summary = import_upload(get_engine(request.app.state.database_url), who, content, fmt)
    refused = [{"line": n, "reason": reason} for n, reason in summary.refused]
    return {"applied": summary.applied, "duplicate": summary.duplicate, "refused": refused}


@router.get(
    "/reports/{quarter}",
    responses={200: {"content": {t: {} for t in CONTENT_TYPES.values()}}, 404: PROBLEM},
)
def download_report(
    quarter: str,
    request: Request,
    format: Literal["json", "csv", "xlsx", "html"] = "json",
    suppress: bool = True,
    restated: bool = Query(False, description="vastgesteld kwartaal: de cijfers zoals ze nu zijn"),
    version: int | None = Query(None, ge=1, le=10_000, description="een vastgestelde versie"),
    who: Principal = Depends(Allow("report")),
) -> Response:
    """The quarterly report of your directorates (a closed quarter as it was fixed);
    unsuppressed and restated figures for P&O and auditors."""
    refusal = report_refusal(who, format, suppress, restated)
    if refusal:
        return problem(403, refusal, request)
    engine = get_engine(request.app.state.database_url)
    content = report_file(engine, who, quarter, format, suppress, restated, version)
    suffix = f"-v{version}" if version else "-herberekend" if restated else ""
    name = f'attachment; filename="kwartaalrapportage-{quarter.upper()}{suffix}.{format}"'
    headers = {"Content-Disposition": name}
    return Response(content, media_type=CONTENT_TYPES[format], headers=headers)


@router.post("/text-check")
def text_check(body: TextIn, who: Principal = Depends(Allow("read"))) -> dict[str, Any]:
    """The inclusive vacancy-text check (as `idflow text-check`); stores nothing."""
    return check_text(body.text).to_dict()


@router.get("/alerts")
def list_alerts(
    request: Request,
    who: Principal = Depends(Allow("alerts")),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Alert causes for P&O (the outbox), newest first, with their delivery status."""
    with unit(request) as session:
        return alert_rows(session, who.scope, limit)


@router.get("/audit/verify")
def audit_verify(request: Request, who: Principal = Depends(Allow("audit"))) -> dict[str, Any]:
    """Check the transition log's hash chain and the closed quarters' snapshots; ``intact``
    is false when either is broken."""
    with unit(request) as session:
        checked, breaks = verify_log(session)
        snapshots, snapshot_breaks = verify_snapshots(session)
        years, year_breaks = verify_year_reports(session)
    return {
        "intact": not breaks and not snapshot_breaks and not year_breaks,
        "checked": checked,
        "breaks": [asdict(b) for b in breaks],
        "snapshots_checked": snapshots,
        "snapshot_breaks": [asdict(b) for b in snapshot_breaks + year_breaks],
        "year_reports_checked": years,
    }


@router.get("/organisation")
def organisation(
    request: Request, who: Principal = Depends(Allow("signed_in"))
) -> list[dict[str, str]]:
    """Active directorates with their cluster."""
    with unit(request) as session:
        return directorate_choices(session)


@router.post("/organisation", responses=TOO_LARGE)
def load_org(
    request: Request,
    file: UploadFile = File(..., description="CSV: cluster_code,cluster_name,..."),
    who: Principal = Depends(Allow("admin")),
) -> dict[str, int]:
    """Load the organisation (names and clusters change; codes are stable)."""
    text = decode_utf8(_upload(request, file, "idflow org load"))
    with unit(request) as session:
        return asdict(load_organisation(session, parse_org_csv(text)))


@router.post("/policy", status_code=201)
def new_policy(
    body: dict[str, Any], request: Request, who: Principal = Depends(Allow("admin"))
) -> dict[str, Any]:
    """Store a new policy version; it applies to procedures opened from now on."""
    policy = parse_policy(body)
    with unit(request) as session:
        add_policy(session, policy)
    return policy.to_json()


@router.get("/users")
def users(request: Request, who: Principal = Depends(Allow("admin"))) -> list[dict[str, Any]]:
    """Every user with role and directorates."""
    with unit(request) as session:
        return user_rows(session)


@router.post("/users", status_code=201)
def add_user(
    body: UserIn, request: Request, who: Principal = Depends(Allow("admin"))
) -> dict[str, str]:
    """Add a user (argon2 password hash; recruiters need their directorates)."""
    with unit(request) as session:
        user = create_user(session, body.username, body.password, body.role, body.directorates)
    return {"username": user.username, "role": user.role}


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: PROBLEM | {"description": "Onbekende gebruiker of onbekend token"}
}


@router.post("/users/{username}/deactivate", responses=NOT_FOUND)
def deactivate(
    username: str, request: Request, who: Principal = Depends(Allow("admin"))
) -> dict[str, Any]:
    """Deactivate a user: sign-in, sessions and every API token stop working at once."""
    with unit(request) as session:
        user, revoked = deactivate_user(session, username)
    return {"username": user.username, "active": False, "tokens_revoked": revoked}


@router.post("/users/{username}/activate", responses=NOT_FOUND)
def activate(
    username: str, request: Request, who: Principal = Depends(Allow("admin"))
) -> dict[str, Any]:
    """Activate a user again (revoked tokens stay revoked; issue new ones)."""
    with unit(request) as session:
        user = activate_user(session, username)
    return {"username": user.username, "active": True}


@router.get("/users/{username}/tokens", responses=NOT_FOUND)
def user_tokens(
    username: str, request: Request, who: Principal = Depends(Allow("admin"))
) -> list[dict[str, Any]]:
    """A user's API tokens: id, label, created, revoked (never the token)."""
    with unit(request) as session:
        return token_rows(session, username)


@router.post("/tokens/{token_id}/revoke", responses=NOT_FOUND)
def revoke(
    request: Request,
    token_id: int = Path(ge=1, le=2**31 - 1),
    who: Principal = Depends(Allow("admin")),
) -> dict[str, Any]:
    """Revoke one API token by its id (see the user's token list)."""
    with unit(request) as session:
        return revoke_token(session, token_id)


@router.post("/users/{username}", responses=NOT_FOUND)
def change(
    username: str, body: UserChange, request: Request, who: Principal = Depends(Allow("admin"))
) -> dict[str, Any]:
    """Change a user's role, directorates or password; their sessions end at once."""
    with unit(request) as session:
        if body.role is not None or body.directorates is not None:
            change_user(session, username, body.role, body.directorates)
        if body.password is not None:
            set_password(session, username, body.password)
        return user_row(session, username)


@router.post("/tokens", status_code=201)
def new_token(
    request: Request,
    label: str = Query("", description="Waarvoor het token dient (hoogstens 100 tekens)"),
    days: int | None = Query(None, description="Geldigheid in dagen (1 tot 365; standaard 90)"),
    read_only: bool = Query(False, description="Alleen lezen"),
    who: Principal = Depends(Allow("signed_in")),
) -> dict[str, Any]:
    """A new API token for yourself, shown once with its expiry; stored only as a hash.

    Roles that change nothing (P&O, auditors) and read-only tokens get read-only tokens."""
    with unit(request) as session:
        issued = issue_token(session, who.user_id, label, days, read_only, by=who)
    return asdict(issued) | {"expires_at": issued.expires_at.isoformat()}


@router.get("/me")
def me(who: Principal = Depends(Allow("signed_in"))) -> dict[str, Any]:
    """Who you are signed in as, with your role and directorates."""
    scope = sorted(who.scope) if who.scope is not None else None
    return {"username": who.username, "role": who.role, "directorates": scope}
