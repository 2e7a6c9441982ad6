"""What the routes call: the engine and the read models, within the principal's scope."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from models import Procedure
from procedures.engine import Applied, apply_event
from procedures.errors import InvalidInput, UnknownVacancy
from procedures.events import parse_event
from procedures.queries import directorates_of, procedure_detail
from web.accounts import Principal

ORIGIN = "web"


def not_visible(vacancy: str) -> UnknownVacancy:
    # The same answer whether the vacancy is missing or outside the user's directorates.
    return UnknownVacancy(f"Vacature {vacancy} bestaat niet of valt buiten uw directies.")


def send_event(
    session: Session,
    principal: Principal,
    vacancy: str,
    event: str,
    data: dict[str, Any],
    event_id: str | None = None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Applied:
    """Apply one event for the principal, if its vacancy lies within their directorates."""
    raw = {
        "id": event_id or f"web-{uuid.uuid4()}",
        "vacancy": vacancy,
        "event": event,
        "at": (at or datetime.now(UTC)).isoformat(),
        "actor": principal.username,
        "data": data,
        "expected_version": expected_version,
    }
    parsed = parse_event(raw)
    check_scope(session, principal, parsed.vacancy, parsed.event, parsed.data)
    return apply_event(session, parsed, origin=ORIGIN)


def check_scope(
    session: Session, principal: Principal, vacancy: str, event: str, data: dict[str, Any]
) -> None:
    """Refuse an event on a vacancy (or a new one in a directorate) the principal may not touch."""
    if event == "open":
        directorate = data.get("directorate")
        if isinstance(directorate, str) and not principal.sees(directorate):
            raise InvalidInput(
                f"U mag geen vacatures openen in directie '{directorate}'; uw directies: "
                f"{', '.join(sorted(principal.scope or ())) or 'geen'}."
            )
        return
    procedure = session.get(Procedure, vacancy)
    if procedure is not None and not principal.sees(procedure.directorate):
        raise not_visible(vacancy)


def visible_detail(session: Session, principal: Principal, vacancy: str) -> dict[str, Any]:
    """A procedure in full, if the principal may see it."""
    procedure = session.get(Procedure, vacancy)
    if procedure is None or not principal.sees(procedure.directorate):
        raise not_visible(vacancy)
    return procedure_detail(session, vacancy)


def scoped_lines(
    session: Session, principal: Principal, lines: list[tuple[int, Any]]
) -> Iterator[tuple[int, Any]]:
    """Import lines, with lines outside the principal's directorates turned into refusals."""
    if principal.scope is None:
        yield from lines
        return
    known = directorates_of(session, {r["vacancy"] for _, r in lines if _vacancy(r)})
    for number, raw in lines:
        directorate = _directorate_of_line(raw, known)
        if directorate is not None and not principal.sees(directorate):
            yield (
                number,
                InvalidInput(
                    f"Vacature {raw.get('vacancy')} valt buiten uw directies; regel overgeslagen."
                ),
            )
        else:
            yield number, raw


def _vacancy(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("vacancy"), str)


def _directorate_of_line(raw: Any, known: dict[str, str]) -> str | None:
    if not _vacancy(raw):
        return None
    data = raw.get("data")
    if raw.get("event") == "open" and isinstance(data, dict):
        directorate = data.get("directorate")
        if isinstance(directorate, str):
            known.setdefault(raw["vacancy"], directorate)
            return directorate
    return known.get(raw["vacancy"])


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
    from procedures.engine import current_policy_version, load_policy
    from procedures.queries import scoped_report
    from procedures.report import report_book
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
