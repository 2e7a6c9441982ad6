"""What was published, as the reader model's publications, and the protection of a new
publication against all of them (``procedures.disclosure_joint``).

Every stored snapshot version (reopened ones too: their readers keep them) and every yearly
report is a publication. A close or a yearly report first protects its figures on its own,
keeping hidden what the figures' earlier publications hid, then calls ``protect_new``.
"""

import logging
from typing import Any

from sqlmodel import Session, col, select

from models import Tally, YearReport
from procedures.disclosure import MUNICIPALITY
from procedures.disclosure_joint import Protection, protect
from procedures.disclosure_model import Model, Publication, QuarterPublication, YearPublication
from procedures.disclosure_reader import ReaderModel
from procedures.snapshots import Snapshot, snapshot_versions

LOG = logging.getLogger(__name__)
FORMAT = 2  # content format of snapshots that list every active directorate
NEW_ORDER = float("inf")  # a publication being made comes after every stored one


def clusters_of(organisation: dict[str, Any]) -> dict[str, str]:
    return {code: d["cluster"] for code, d in organisation["directorates"].items()}


def inactive_listed(organisation: dict[str, Any], report: dict[str, Any]) -> frozenset[str]:
    directorates = organisation["directorates"]
    listed = {row["directorate"] for row in report["rows"]}
    return frozenset(
        d for d in listed if d in directorates and not directorates[d].get("active", True)
    )


def quarter_publication(snapshot: Snapshot) -> QuarterPublication:
    content = snapshot.content
    internal = content["internal"]["report"]
    return QuarterPublication(
        name=f"{snapshot.quarter} versie {snapshot.version}",
        quarter=snapshot.quarter,
        version=snapshot.version,
        order=float(snapshot.row.id or 0),
        threshold=snapshot.threshold,
        clusters=clusters_of(content["organisation"]),
        inactive=inactive_listed(content["organisation"], internal),
        legacy=content.get("format", 1) < FORMAT,
        internal=internal,
        published=content["published"]["report"],
        corrects={q: int(v) for q, v in content.get("corrects", {}).items()},
    )


def year_publication(row: YearReport) -> YearPublication:
    content = row.content
    return YearPublication(
        name=f"jaar {row.year}",
        year=row.year,
        order=float(content["after"]) + 0.5,
        threshold=int(content["policy"]["suppression_threshold"]),
        clusters=clusters_of(content["organisation"]),
        sources={q: int(s["version"]) for q, s in content["sources"].items()},
        internal=content["internal"]["sections"],
        published=content["published"]["sections"],
    )


def ledger(session: Session) -> list[Publication]:
    """Every publication so far, in the order it was made."""
    publications: list[Publication] = [quarter_publication(s) for s in snapshot_versions(session)]
    for row in session.exec(select(YearReport).order_by(col(YearReport.year))):
        publications.append(year_publication(row))
    return sorted(publications, key=lambda p: p.order)


def last_order(session: Session) -> int:
    """The order of the newest stored snapshot (a yearly report comes after it)."""
    return max((int(s.row.id or 0) for s in snapshot_versions(session)), default=0)


def first_quarter(session: Session, publications: list[Publication]) -> str | None:
    """The first published quarter, when nothing was counted before it: a reader may then
    take every running total from there (step order); otherwise it cannot."""
    quarters = [p.quarter for p in publications if isinstance(p, QuarterPublication)]
    if not quarters:
        return None
    start = min(quarters)
    before = session.exec(
        select(Tally.quarter).where(col(Tally.quarter) < start, Tally.count != 0).limit(1)
    ).first()
    return None if before else start


def protect_new(session: Session, new: Publication) -> Protection:
    """Choose what else ``new`` must hide so that no hidden figure of any publication can
    be recovered from all of them together; ``new.published`` is updated in place."""
    publications = ledger(session)
    start = first_quarter(session, [*publications, new])
    model = ReaderModel([*publications, new], new.name, start).build()

    def prior() -> Model:
        return ReaderModel(publications, None, start).build()

    protection = protect(model, prior)
    apply_hidden(new, protection.hide)
    for finding in protection.accepted:
        LOG.warning(
            "%s %s: narrowed to %s..%s by earlier publications", finding.figure.publication,
            finding.figure.key, finding.low, finding.high,
        )  # fmt: skip
    return protection


def apply_hidden(new: Publication, hide: dict[tuple[Any, ...], str]) -> None:
    """Write the figures ``protect`` hid into the new publication's published side."""
    places: dict[str, dict[tuple[Any, ...], dict[str, Any]]]
    if isinstance(new, QuarterPublication):
        report = new.published
        places = {
            "d": {(r["directorate"], r["indicator"]): r for r in report["rows"]},
            "c": {(r["cluster"], r["indicator"]): r for r in report["cluster_totals"]},
            "m": {(MUNICIPALITY, r["indicator"]): r for r in report["municipality_totals"]},
            "corr": {
                (r["quarter"], r["directorate"], r["indicator"]): r
                for r in report.get("corrections", [])
            },
        }
    else:
        section = new.published["indicators"]
        places = {
            "y": {(r["period"], r["cluster"], r["indicator"]): r for r in section["cluster_totals"]}
            | {
                (r["period"], MUNICIPALITY, r["indicator"]): r
                for r in section["municipality_totals"]
            },  # fmt: skip
            "reason": {
                (r["cluster"],): r["reasons"]
                for r in new.published["exit_reasons"]["clusters"]
                if r["published"]
            },
        }
    for key, shown in hide.items():
        level, *place, column = key
        places[level][tuple(place)][column] = shown
