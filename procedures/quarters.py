"""Closing a quarter: its kwartaalrapportage becomes a fixed record (DOMAIN.md, "Closed
quarters"); reopening it is a rare, logged admin action.

``close_quarter`` rolls up and freezes, in the caller's transaction, one snapshot of the
report as it stands (``procedures.snapshots`` describes its content), published with the
figures the joint audit hides (``procedures.disclosure_joint``). Two closes at once give
one snapshot: the roll-up's lock on its position makes the second wait and then find the
quarter closed, and the unique (quarter, version) key settles any race left. A close also
tells P&O (an outbox cause ``quarter_closed:{quarter}:{version}``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models import QuarterReopening, QuarterSnapshot, Tally
from procedures.alerts import insert_causes, outbox_row
from procedures.calendar import quarter_end, quarter_start, shift_quarter
from procedures.disclosure_ledger import FORMAT
from procedures.errors import InvalidInput, RuleViolation
from procedures.events import sha256_json
from procedures.policy import Policy
from procedures.report import CLOSED, PROVISIONAL
from procedures.report_builder import Sources, draft, publish_draft, report_quarter
from procedures.rows import OutboxRow
from procedures.snapshots import (
    Snapshot,
    current_snapshots,
    moment_text,
    reopening_hash,
    reopenings,
    snapshot_versions,
)
from procedures.store import current_policy_version, load_policy
from procedures.tallies import roll_up

MAX_REASON = 2000


@dataclass(frozen=True)
class Closed:
    """The snapshot in force after a close; ``created`` False: the quarter was closed already."""

    snapshot: Snapshot
    created: bool


def close_quarter(
    session: Session, quarter: str, actor: str, now: datetime | None = None
) -> Closed:
    """Close ``quarter``: roll up, then freeze its report (a closed quarter: nothing changes)."""
    quarter, now = report_quarter(quarter), (now or datetime.now(UTC)).replace(microsecond=0)
    if quarter_end(quarter) >= now:
        raise RuleViolation(
            f"Kwartaal {quarter} is nog niet voorbij (het loopt tot en met "
            f"{quarter_end(quarter):%d-%m-%Y}); een kwartaal wordt pas daarna vastgesteld."
        )
    position = roll_up(session).high  # on PostgreSQL this waits for a close in flight
    sources = Sources.load(session)
    if quarter in sources.closed:
        return Closed(sources.closed[quarter], created=False)
    versions = snapshot_versions(session, quarter)
    version = len(versions) + 1
    status = {"status": CLOSED, "closed_at": moment_text(now), "version": version}
    made = draft(session, quarter, sources, status, restated=False)
    publish_draft(session, made, version)
    content = {
        "format": FORMAT,
        "quarter": quarter,
        "version": version,
        "closed_at": moment_text(now),
        "closed_by": actor,
        "position": position,
        "previous": _previous(session, quarter, versions),
        "policy": {"version": sources.policy_version, "suppression_threshold": sources.threshold},
        "organisation": sources.organisation.to_json(),
        "tallies": _tallies(session, quarter),
        "corrects": made.corrects,
        "internal": made.book(suppress=False).to_json(),
        "published": made.book(suppress=True).to_json(),
    }
    row = {"quarter": quarter, "version": version, "closed_at": now, "closed_by": actor,
           "position": position, "content": content, "sha256": sha256_json(content)}  # fmt: skip
    if not insert_once(session, QuarterSnapshot, row, ["quarter", "version"]):
        return Closed(current_snapshots(session)[quarter], created=False)
    snapshot = current_snapshots(session)[quarter]
    insert_causes(session, [_closed_cause(snapshot, now)])
    return Closed(snapshot, created=True)


def _previous(session: Session, quarter: str, versions: list[Snapshot]) -> str | None:
    if not versions:
        return None
    return str(reopenings(session, quarter)[(quarter, versions[-1].version)].sha256)


def _tallies(session: Session, quarter: str) -> list[list[Any]]:
    rows = session.exec(select(Tally).where(Tally.quarter == quarter, Tally.count != 0))
    return sorted([t.directorate, t.indicator, t.outcome, t.count] for t in rows)


def insert_once(session: Session, model: Any, row: dict[str, Any], key: list[str]) -> bool:
    """Insert ``row`` unless its unique ``key`` is taken (by a concurrent writer): True if
    this call inserted it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model).values(row).on_conflict_do_nothing(index_elements=key)
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _closed_cause(snapshot: Snapshot, now: datetime) -> OutboxRow:
    content = snapshot.content
    payload = {
        "quarter": snapshot.quarter,
        "version": snapshot.version,
        "closed_at": content["closed_at"],
        "closed_by": content["closed_by"],
        "sha256": snapshot.row.sha256,
        "rows": len(content["internal"]["report"]["rows"]),
        "corrections": len(content["internal"]["report"]["corrections"]),
    }
    key = f"quarter_closed:{snapshot.quarter}:{snapshot.version}"
    return outbox_row(key, "quarter_closed", None, None, payload, now)


def reopen_quarter(
    session: Session, quarter: str, actor: str, reason: str, now: datetime | None = None
) -> QuarterReopening:
    """Reopen a closed quarter (admin); its snapshot stays, the next close makes a new one."""
    quarter, now = report_quarter(quarter), (now or datetime.now(UTC)).replace(microsecond=0)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"Geef de reden van het heropenen op (--reason), 1 tot {MAX_REASON} tekens; "
            "de reden komt in het logboek van de vastgestelde kwartalen."
        )
    snapshot = current_snapshots(session).get(quarter)
    if snapshot is None:
        raise RuleViolation(f"Kwartaal {quarter} is niet vastgesteld; er is niets te heropenen.")
    reopening = QuarterReopening(
        quarter=quarter, version=snapshot.version, reopened_at=now, reopened_by=actor,
        reason=reason, sha256="",
    )  # fmt: skip
    reopening.sha256 = reopening_hash(reopening, snapshot.row.sha256)
    row = reopening.model_dump()
    if not insert_once(session, QuarterReopening, row, ["quarter", "version"]):
        raise RuleViolation(f"Kwartaal {quarter} is zojuist al heropend; er is niets veranderd.")
    return reopening


def close_due(policy: Policy, quarter: str) -> datetime:
    """When the close deployment fixes ``quarter``: ``close_after_days`` after it ended."""
    return quarter_start(shift_quarter(quarter, 1)) + timedelta(days=policy.close_after_days)


@dataclass(frozen=True)
class ScheduledClose:
    """What the close deployment did: ``closed``, ``already`` (closed before), ``not_due``
    (too early) or ``reopened`` (an admin reopened it: only a person closes it again)."""

    action: str
    due: datetime
    snapshot: Snapshot | None = None


def scheduled_close(session: Session, quarter: str, as_of: datetime, actor: str) -> ScheduledClose:
    """Close ``quarter`` if the policy's ``close_after_days`` have passed at ``as_of`` and it
    was never closed."""
    quarter = report_quarter(quarter)
    due = close_due(load_policy(session, current_policy_version(session)), quarter)
    if as_of < due:
        return ScheduledClose("not_due", due)
    current = current_snapshots(session).get(quarter)
    if current is not None:
        return ScheduledClose("already", due, current)
    if snapshot_versions(session, quarter):
        return ScheduledClose("reopened", due)
    closed = close_quarter(session, quarter, actor)
    return ScheduledClose("closed" if closed.created else "already", due, closed.snapshot)


def quarter_overview(session: Session) -> list[dict[str, Any]]:
    """Every quarter with figures or snapshots: status and every snapshot version (without
    the snapshots' content)."""
    reopened = reopenings(session)
    versions: dict[str, list[dict[str, Any]]] = {}
    names = ("quarter", "version", "closed_at", "closed_by", "sha256")
    statement = sa_select(*(col(getattr(QuarterSnapshot, name)) for name in names)).order_by(
        col(QuarterSnapshot.quarter), col(QuarterSnapshot.version)
    )
    for quarter, version, closed_at, closed_by, sha256 in session.execute(statement):
        again = reopened.get((quarter, version))
        versions.setdefault(quarter, []).append(
            {"version": version, "closed_at": moment_text(closed_at), "closed_by": closed_by,
             "sha256": sha256,
             "reopened_at": moment_text(again.reopened_at) if again else None,
             "reopened_by": again.reopened_by if again else None,
             "reason": again.reason if again else None}
        )  # fmt: skip
    quarters = set(versions) | set(session.exec(select(Tally.quarter).distinct()))
    overview = []
    for quarter in sorted(quarters, reverse=True):
        kept = versions.get(quarter, [])
        closed = bool(kept) and kept[-1]["reopened_at"] is None
        overview.append({"quarter": quarter, "status": CLOSED if closed else PROVISIONAL,
                         "versions": kept})  # fmt: skip
    return overview


def close_preview(session: Session, quarter: str, now: datetime | None = None) -> dict[str, Any]:
    """What closing ``quarter`` now would freeze: the published report as it stands (chosen
    against everything published, as the close will), the organisation and the policy
    (nothing is written); no report for a quarter that has not ended or is closed."""
    quarter, now = report_quarter(quarter), now or datetime.now(UTC)
    sources = Sources.load(session)
    ended, closed = quarter_end(quarter) < now, sources.closed.get(quarter)
    version = len(snapshot_versions(session, quarter)) + 1
    book = None
    if ended and closed is None:
        made = draft(session, quarter, sources, {"status": PROVISIONAL}, restated=False)
        publish_draft(session, made, version)
        book = made.book(suppress=True)
    return {
        "quarter": quarter,
        "ended": ended,
        "closed": closed,
        "version": version,
        "policy_version": sources.policy_version,
        "threshold": sources.threshold,
        "clusters": len(sources.organisation.clusters),
        "directorates": len(sources.organisation.directorates),
        "book": book,
    }
