"""What the routes call: the engine and the read models, within the principal's scope."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from models import Procedure, Transition
from procedures.engine import Applied, apply_event
from procedures.errors import EventIdReused, EventNotAllowed, InvalidInput, UnknownVacancy
from procedures.events import parse_event
from procedures.queries import directorates_of, procedure_detail
from web.accounts import Principal

ORIGIN = "web"
# Event ids looked up per query when an upload is checked (well below SQLite's limit).
ID_CHUNK = 500


def not_visible(vacancy: str) -> UnknownVacancy:
    # The same answer whether the vacancy is missing or outside the user's directorates.
    return UnknownVacancy(f"Vacature {vacancy} bestaat niet of valt buiten uw directies.")


def number_taken(vacancy: str) -> EventNotAllowed:
    # A vacancy number in use in another directorate: say no more than that it is taken.
    return EventNotAllowed(f"Vacaturenummer {vacancy} is niet beschikbaar; kies een ander nummer.")


def id_taken(event_id: str) -> EventIdReused:
    # An event id used on a vacancy outside the user's directorates: neither event nor vacancy.
    return EventIdReused(f"Gebeurtenis-id '{event_id}' is niet beschikbaar; kies een nieuw id.")


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
    entry point's); None means now. The actor is always the signed-in user.
    """
    raw = {
        "id": event_id or f"web-{uuid.uuid4()}",
        "vacancy": vacancy,
        "event": event,
        "at": datetime.now(UTC).isoformat() if at is None else at,
        "actor": principal.username,
        "data": data,
        "expected_version": expected_version,
    }
    parsed = parse_event(raw)
    check_scope(session, principal, parsed.vacancy, parsed.event, parsed.data, parsed.id)
    return apply_event(session, parsed, origin=ORIGIN)


def check_scope(
    session: Session,
    principal: Principal,
    vacancy: str,
    event: str,
    data: dict[str, Any],
    event_id: str | None = None,
) -> None:
    """Refuse an event on a vacancy (or a new one in a directorate) the principal may not touch.

    Nothing in the refusal tells about vacancies outside the principal's directorates: such
    a vacancy answers as a missing one, and a vacancy number or event id in use there is
    only "not available".
    """
    if principal.scope is None:
        return
    if event == "open":
        directorate = data.get("directorate")
        if isinstance(directorate, str) and not principal.sees(directorate):
            raise InvalidInput(
                f"U mag geen vacatures openen in directie '{directorate}'; uw directies: "
                f"{', '.join(sorted(principal.scope or ())) or 'geen'}."
            )
    procedure = session.get(Procedure, vacancy)
    if event == "open":
        if procedure is not None and not principal.sees(procedure.directorate):
            raise number_taken(vacancy)
    elif procedure is None or not principal.sees(procedure.directorate):
        raise not_visible(vacancy)
    if event_id is not None:
        used = _directorates_of_event_ids(session, [event_id])
        if event_id in used and not principal.sees(used[event_id]):
            raise id_taken(event_id)


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
    if procedure is None or not principal.sees(procedure.directorate):
        raise not_visible(vacancy)
    return procedure_detail(session, vacancy)


def scoped_lines(
    session: Session, principal: Principal, lines: list[tuple[int, Any]]
) -> Iterator[tuple[int, Any]]:
    """Import lines as the principal sends them: the actor is the signed-in user (whatever a
    line says), and lines outside the principal's directorates are turned into refusals."""
    lines = [(n, _as_actor(raw, principal.username)) for n, raw in lines]
    if principal.scope is None:
        yield from lines
        return
    stored = directorates_of(session, {r["vacancy"] for _, r in lines if _vacancy(r)})
    ids = [r["id"] for _, r in lines if isinstance(r, dict) and isinstance(r.get("id"), str)]
    used_ids = _directorates_of_event_ids(session, ids)
    known = dict(stored)
    for number, raw in lines:
        yield number, _scoped_line(principal, raw, stored, known, used_ids)


def _as_actor(raw: Any, username: str) -> Any:
    return raw | {"actor": username} if isinstance(raw, dict) else raw


def _scoped_line(
    principal: Principal,
    raw: Any,
    stored: dict[str, str],
    known: dict[str, str],
    used_ids: dict[str, str],
) -> Any:
    """The line, or why the principal may not send it (revealing nothing outside the scope).

    ``known`` holds the directorate of every vacancy stored or opened earlier in the file."""
    if not isinstance(raw, dict):
        return raw
    try:
        event = parse_event(raw)
    except InvalidInput as error:
        return error  # what the importer would answer anyway
    vacancy = event.vacancy
    if event.event == "open":
        directorate = event.data.get("directorate")
        if isinstance(directorate, str):
            known.setdefault(vacancy, directorate)
            if not principal.sees(directorate):
                return InvalidInput(
                    f"Vacature {vacancy} valt buiten uw directies; regel overgeslagen."
                )
        if vacancy in stored and not principal.sees(stored[vacancy]):
            return InvalidInput(str(number_taken(vacancy)))
    elif vacancy not in known or not principal.sees(known[vacancy]):
        return InvalidInput(str(not_visible(vacancy)))  # missing or hidden: the same answer
    if event.id in used_ids and not principal.sees(used_ids[event.id]):
        return InvalidInput(str(id_taken(event.id)))
    return raw


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


def report_file(engine: Any, principal: Principal, quarter: str, fmt: str, suppress: bool) -> bytes:
    """The report of ``quarter`` in ``fmt`` within the principal's scope. Rolls up first, like
    the report flow. Readers of every directorate get the
    whole kwartaalrapportage (trend, and deviations when unsuppressed); a recruiter gets the
    own directorates' figures only."""
    from models import session_scope
    from procedures.calendar import parse_quarter
    from procedures.queries import scoped_report
    from procedures.report import report_book
    from procedures.store import current_policy_version, load_policy
    from procedures.tallies import roll_up
    from workflows import report as report_module

    parse_quarter(quarter)
    if fmt not in report_module.FORMATS:
        raise InvalidInput(
            f"Onbekend rapportformaat '{fmt}'; kies uit: {', '.join(report_module.FORMATS)}."
        )
    with session_scope(engine) as session:
        roll_up(session)
    with session_scope(engine) as session:
        if principal.scope is None:
            threshold = load_policy(session, current_policy_version(session)).suppression_threshold
            content: Any = report_book(session, quarter.upper(), threshold, suppress)
        else:
            content = scoped_report(session, quarter.upper(), principal.scope, suppress)
    rendered = report_module.render(content, fmt)
    return rendered.encode("utf-8") if isinstance(rendered, str) else bytes(rendered)
