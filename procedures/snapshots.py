"""What was published: the snapshots of closed quarters (and the yearly reports), read and
verified.

A snapshot is written once (``procedures.quarters.close_quarter``) and never changed. Its
``content`` is the canonical record of the closed report::

    quarter, version, closed_at, closed_by  what was closed, when, by whom
    position                                the roll-up position it counts up to
    previous                                the hash of the reopening before it (or null)
    policy {version, suppression_threshold} the policy in force at the close
    organisation {clusters, directorates}   the organisation as it stood
    tallies [[directorate, indicator, outcome, count]]
    corrects {quarter: version}             the snapshots its corrections are measured against
    internal, published                     the report book, unsuppressed and as published

``sha256`` is the SHA-256 of the canonical JSON of ``content`` (sorted keys, no spaces); a
reopening's hash covers the reopening and the hash of the snapshot it reopens, and the next
version's ``previous`` names that hash, so each quarter's versions form a chain that
``verify_snapshots`` walks.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, select

from models import QuarterReopening, QuarterSnapshot, YearReport
from procedures.events import sha256_json
from procedures.policy import AMSTERDAM
from procedures.report import Cell, Organisation
from procedures.report_book import ReportBook


def moment_text(moment: datetime) -> str:
    """How a close or reopening moment is written in content and reports (Amsterdam time)."""
    return moment.astimezone(AMSTERDAM).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Snapshot:
    """One stored snapshot version of a closed quarter."""

    row: QuarterSnapshot

    @property
    def quarter(self) -> str:
        return self.row.quarter

    @property
    def version(self) -> int:
        return self.row.version

    @property
    def content(self) -> dict[str, Any]:
        return self.row.content

    @property
    def organisation(self) -> Organisation:
        return Organisation.from_json(self.content["organisation"])

    @property
    def threshold(self) -> int:
        return int(self.content["policy"]["suppression_threshold"])

    def book(self, suppress: bool) -> ReportBook:
        """The report as it was published (``suppress``) or its internal version."""
        side = self.content["published" if suppress else "internal"]
        return ReportBook.from_json(side, self.organisation)

    def report(self, suppress: bool) -> dict[str, Any]:
        return dict(self.content["published" if suppress else "internal"]["report"])

    def cells(self) -> dict[tuple[str, str], Cell]:
        """(directorate, indicator) -> Cell of the frozen tallies."""
        cells: dict[tuple[str, str], Cell] = {}
        for directorate, indicator, outcome, count in self.content["tallies"]:
            cell = cells.setdefault((directorate, indicator), Cell())
            setattr(cell, outcome, getattr(cell, outcome) + count)
        return cells

    def corrections(self) -> list[dict[str, Any]]:
        """The corrections this closed report published (unsuppressed figures)."""
        return list(self.content["internal"]["report"].get("corrections", []))

    def corrects(self, quarter: str) -> int | None:
        """The version of ``quarter``'s snapshot its corrections were measured against."""
        value = self.content.get("corrects", {}).get(quarter)
        return None if value is None else int(value)


def _not_reopened() -> Any:
    return ~exists().where(
        col(QuarterReopening.quarter) == QuarterSnapshot.quarter,
        col(QuarterReopening.version) == QuarterSnapshot.version,
    )


def current_snapshots(session: Session) -> dict[str, Snapshot]:
    """quarter -> its snapshot in force, for every closed quarter (not reopened since)."""
    statement = select(QuarterSnapshot).where(_not_reopened())
    return {row.quarter: Snapshot(row) for row in session.exec(statement)}


def closed_positions(session: Session) -> dict[str, tuple[int, int]]:
    """quarter -> (version, roll-up position) of every closed quarter, without the content."""
    statement = select(
        QuarterSnapshot.quarter, QuarterSnapshot.version, QuarterSnapshot.position
    ).where(_not_reopened())
    return {quarter: (version, position) for quarter, version, position in session.exec(statement)}


def snapshot_versions(session: Session, quarter: str | None = None) -> list[Snapshot]:
    """Every stored version (of ``quarter``, or of all quarters), oldest first."""
    statement = select(QuarterSnapshot)
    if quarter is not None:
        statement = statement.where(QuarterSnapshot.quarter == quarter)
    statement = statement.order_by(col(QuarterSnapshot.quarter), col(QuarterSnapshot.version))
    return [Snapshot(row) for row in session.exec(statement)]


def snapshot_of(session: Session, quarter: str, version: int) -> Snapshot | None:
    row = session.exec(
        select(QuarterSnapshot).where(
            QuarterSnapshot.quarter == quarter, QuarterSnapshot.version == version
        )
    ).first()
    return None if row is None else Snapshot(row)


def reopenings(session: Session, quarter: str | None = None) -> dict[tuple[str, int], Any]:
    """(quarter, version) -> the reopening of that snapshot version."""
    statement = select(QuarterReopening)
    if quarter is not None:
        statement = statement.where(QuarterReopening.quarter == quarter)
    return {(r.quarter, r.version): r for r in session.exec(statement)}


def reopening_hash(row: QuarterReopening, snapshot_hash: str) -> str:
    return sha256_json(
        {
            "quarter": row.quarter,
            "version": row.version,
            "snapshot": snapshot_hash,
            "reopened_at": moment_text(row.reopened_at),
            "reopened_by": row.reopened_by,
            "reason": row.reason,
        }
    )


@dataclass(frozen=True)
class SnapshotBreak:
    quarter: str  # a quarter, or a year for a yearly report
    version: int
    reason: str
    kind: str = "kwartaal"  # or "jaar"

    def __str__(self) -> str:
        if self.kind == "jaar":
            return f"jaarrapportage {self.quarter}: {self.reason}"
        return f"kwartaal {self.quarter} versie {self.version}: {self.reason}"


def verify_snapshots(session: Session) -> tuple[int, list[SnapshotBreak]]:
    """Recompute every snapshot's and reopening's hash and walk each quarter's versions."""
    reopened = reopenings(session)
    breaks: list[SnapshotBreak] = []
    versions = snapshot_versions(session)
    by_quarter: dict[str, list[Snapshot]] = {}
    for snapshot in versions:
        by_quarter.setdefault(snapshot.quarter, []).append(snapshot)
    for quarter, chain in by_quarter.items():
        breaks += _chain_breaks(quarter, chain, reopened)
    known = {(s.quarter, s.version) for s in versions}
    for quarter, version in sorted(set(reopened) - known):
        breaks.append(SnapshotBreak(quarter, version, "heropening zonder vastgestelde versie"))
    return len(versions), breaks


def _chain_breaks(
    quarter: str, chain: list[Snapshot], reopened: dict[tuple[str, int], QuarterReopening]
) -> list[SnapshotBreak]:
    breaks, previous = [], None
    for expected, snapshot in enumerate(chain, 1):
        problem = _snapshot_problem(snapshot, expected, previous)
        if problem:
            breaks.append(SnapshotBreak(quarter, snapshot.version, problem))
        reopening = reopened.get((quarter, snapshot.version))
        previous = None
        if reopening is not None:
            previous = reopening.sha256
            if reopening_hash(reopening, snapshot.row.sha256) != reopening.sha256:
                breaks.append(
                    SnapshotBreak(
                        quarter, snapshot.version, "heropening gewijzigd (hash klopt niet)"
                    )
                )
        elif expected < len(chain):
            breaks.append(
                SnapshotBreak(quarter, snapshot.version, "nieuwere versie zonder heropening")
            )
    return breaks


def _snapshot_problem(snapshot: Snapshot, expected: int, previous: str | None) -> str | None:
    row, content = snapshot.row, snapshot.content
    if row.version != expected:
        return f"versie {expected} ontbreekt"
    if sha256_json(content) != row.sha256:
        return "inhoud gewijzigd (hash klopt niet)"
    stored = (row.quarter, row.version, row.closed_by, row.position, moment_text(row.closed_at))
    recorded = tuple(
        content.get(k) for k in ("quarter", "version", "closed_by", "position", "closed_at")
    )
    if stored != recorded:
        return "gegevens wijken af van de vastgelegde inhoud"
    if content.get("previous") != previous:
        return "verwijzing naar de vorige heropening klopt niet"
    return None


def verify_year_reports(session: Session) -> tuple[int, list[SnapshotBreak]]:
    """Recompute every yearly report's hash and compare its columns with its content."""
    breaks, rows = [], list(session.exec(select(YearReport).order_by(col(YearReport.year))))
    for row in rows:
        content, problem = row.content, None
        recorded = (content.get("year"), content.get("published_by"), content.get("position"),
                    content.get("published_at"))  # fmt: skip
        if sha256_json(content) != row.sha256:
            problem = "inhoud gewijzigd (hash klopt niet)"
        elif recorded != (row.year, row.published_by, row.position, moment_text(row.published_at)):
            problem = "gegevens wijken af van de vastgelegde inhoud"
        if problem:
            breaks.append(SnapshotBreak(str(row.year), 1, problem, kind="jaar"))
    return len(rows), breaks
