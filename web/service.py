"""What the routes call: the engine and the read models, within the principal's scope."""

import uuid
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from models import Procedure, Transition
from procedures.access import Facts, Principal, check_visible, event_refusal
from procedures.engine import Applied, apply_event
from procedures.errors import InvalidInput
from procedures.events import parse_event
from procedures.queries import directorates_of, procedure_detail

ORIGIN = "web"
# Event ids looked up per query when an upload is checked (well below SQLite's limit).
ID_CHUNK = 500


def send_event(
    session: Session,
    principal: Principal,
    vacancy: str,
    event: str,
    data: dict[str, Any],
    event_id: str | None = None,
    at: str | None = None,
    expected_version: int | None = None,
) -> Applied:
    """Apply one event for the principal, if its vacancy lies within their directorates.

    ``at`` goes to the event parser as sent (ISO 8601 text, checked there like every other
    entry point's); None leaves it out: now, and a retry of the same id is a duplicate. The
    actor is always the signed-in user.
    """
    raw: dict[str, Any] = {
        "id": event_id or f"web-{uuid.uuid4()}",
        "vacancy": vacancy,
        "event": event,
        "actor": principal.username,
        "data": data,
        "expected_version": expected_version,
    }
    if at is not None:
        raw["at"] = at
    parsed = parse_event(raw, interactive=True)
    if principal.scope is not None:
        facts = _facts(session, parsed.vacancy, parsed.id)
        refusal = event_refusal(principal, raw, facts)
        if refusal is not None:
            raise refusal
    return apply_event(session, parsed, origin=ORIGIN)


def _facts(session: Session, vacancy: str, event_id: str) -> Facts:
    procedure = session.get(Procedure, vacancy)
    used = _directorates_of_event_ids(session, [event_id])
    return Facts(procedure.directorate if procedure else None, used.get(event_id))


def _directorates_of_event_ids(session: Session, ids: list[str]) -> dict[str, str]:
    """event id -> directorate of its vacancy, for the ids already used."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_CHUNK):
        chunk = unique[start : start + ID_CHUNK]
        statement = select(Transition.event_id, Transition.directorate).where(
            col(Transition.event_id).in_(chunk)
        )
        found.update(dict(session.exec(statement).all()))
    return found


def visible_detail(session: Session, principal: Principal, vacancy: str) -> dict[str, Any]:
    """A procedure in full, if the principal may see it."""
    procedure = session.get(Procedure, vacancy)
    check_visible(principal, vacancy, procedure.directorate if procedure else None)
    return procedure_detail(session, vacancy)


def scoped_lines(
    session: Session, principal: Principal, lines: list[tuple[int, Any]]
) -> Iterator[tuple[int, Any]]:
    """Import lines as the principal sends them: the actor is the signed-in user (whatever a
    line says), and lines the principal may not send become their refusals."""
    lines = [(n, _as_actor(raw, principal.username)) for n, raw in lines]
    if principal.scope is None:
        yield from lines
        return
    stored = directorates_of(session, {r["vacancy"] for _, r in lines if _vacancy(r)})
    ids = [r["id"] for _, r in lines if isinstance(r, dict) and isinstance(r.get("id"), str)]
    used_ids = _directorates_of_event_ids(session, ids)
    known = dict(stored)  # vacancies stored, and those the file opens before a line
    for number, raw in lines:
        if not isinstance(raw, dict):
            yield number, raw
            continue
        try:
            event = parse_event(raw)
        except InvalidInput as error:
            yield number, error  # what the importer would answer anyway
            continue
        facts = Facts(known.get(event.vacancy), used_ids.get(event.id))
        if event.event == "open":
            facts = Facts(stored.get(event.vacancy), facts.id_used_in)
            directorate = event.data.get("directorate")
            if isinstance(directorate, str):
                known.setdefault(event.vacancy, directorate)
        refusal = event_refusal(principal, raw, facts)
        yield number, (InvalidInput(str(refusal)) if refusal else raw)


def _as_actor(raw: Any, username: str) -> Any:
    return raw | {"actor": username} if isinstance(raw, dict) else raw


def _vacancy(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("vacancy"), str)


def import_upload(engine: Any, principal: Principal, content: bytes, fmt: str) -> Any:
    """Import an uploaded JSONL or CSV file through the engine, within the principal's scope."""
    import tempfile

    from workflows.importer import import_events, read_lines

    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as handle:
        handle.write(content)
        handle.flush()
        lines = list(read_lines(handle.name, fmt))
    with Session(engine) as session:
        scoped = list(scoped_lines(session, principal, lines))
    return import_events(engine, scoped, origin=ORIGIN)


CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


def report_file(
    engine: Any,
    principal: Principal,
    quarter: str,
    fmt: str,
    suppress: bool,
    restated: bool = False,
    version: int | None = None,
) -> bytes:
    """The report of ``quarter`` in ``fmt`` from the one builder, within the principal's
    scope (a recruiter: the own directorates' rows only). Rolls up first, in a transaction of
    its own, like the report flow."""
    from models import session_scope
    from procedures.report_builder import build_report, check_format, report_quarter
    from procedures.tallies import roll_up
    from workflows.report import render

    quarter, fmt = report_quarter(quarter), check_format(fmt)
    with session_scope(engine) as session:
        roll_up(session)
    with session_scope(engine) as session:
        book = build_report(session, quarter, suppress, restated, version, principal.scope)
    rendered = render(book, fmt)
    return rendered.encode("utf-8") if isinstance(rendered, str) else bytes(rendered)
