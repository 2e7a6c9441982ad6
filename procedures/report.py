"""The quarterly report (kwartaalrapportage) as data: rows per directorate and indicator,
rolled up to cluster and municipality, with the norm classification."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, func, select

from models import Cluster, Directorate, ExitReason, Transition
from procedures.calendar import parse_quarter, quarter_end, recent_quarters
from procedures.disclosure import HIDDEN, MUNICIPALITY, suppress_report
from procedures.tallies import tallies_for

OUTCOMES = ("met", "explained", "released", "not_met")
INDICATORS = ("I2", "I3", "I4", "I5", "I6")
INDICATOR_LABELS = {
    "I2": "I&D-vacaturetekst",
    "I3": "BIWS-procedure",
    "I4": "Rooney Rule",
    "I5": "Onboarding",
    "I6": "Exitgesprek",
}
NORM_PCT = 100
TREND_QUARTERS = 8
STATUS_LABELS = {
    "on_norm": "op norm",
    "explained": "afwijking toegelicht",
    "below_norm": "onder norm",
    "no_data": "geen gegevens",
    "unknown": "onderdrukt",
}
OUTCOME_LABELS = {
    "met": "voldaan",
    "explained": "toegelicht",
    "released": "losgelaten",
    "not_met": "niet voldaan",
}
NO_EXPLANATION = "geen toelichting"


@dataclass
class Cell:
    """Counts of one indicator in one place (directorate, cluster or municipality)."""

    met: int = 0
    explained: int = 0
    released: int = 0
    not_met: int = 0

    @property
    def total(self) -> int:
        return self.met + self.explained + self.released + self.not_met

    @property
    def pct_met(self) -> float | None:
        return round(100 * self.met / self.total, 1) if self.total else None

    @property
    def status(self) -> str:
        """on_norm when all met; explained when every deviation is explained or released."""
        if self.total == 0:
            return "no_data"
        if self.met == self.total:
            return "on_norm"
        return "below_norm" if self.not_met else "explained"

    def add(self, other: "Cell") -> None:
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in OUTCOMES} | {"total": self.total}


def directorate_cells(session: Session, quarters: list[str]) -> dict[tuple[str, str, str], Cell]:
    """(quarter, directorate, indicator) -> Cell, from the rolled-up tallies."""
    cells: dict[tuple[str, str, str], Cell] = {}
    for tally in tallies_for(session, quarters):
        cell = cells.setdefault((tally.quarter, tally.directorate, tally.indicator), Cell())
        setattr(cell, tally.outcome, getattr(cell, tally.outcome) + tally.count)
    return cells


def organisation(session: Session) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(directorate -> cluster, cluster -> name, directorate -> name)."""
    directorates = session.exec(select(Directorate)).all()
    clusters = session.exec(select(Cluster)).all()
    return (
        {d.code: d.cluster_code for d in directorates},
        {c.code: c.name for c in clusters},
        {d.code: d.name for d in directorates},
    )


def quarter_report(session: Session, quarter: str) -> dict[str, Any]:
    """The unsuppressed report of a quarter: DOMAIN.md rows plus cluster and municipal totals."""
    cluster_of, _, _ = organisation(session)
    cells = directorate_cells(session, [quarter])
    rows = []
    for (_, directorate, indicator), cell in cells.items():
        if cell.total:
            cluster = cluster_of.get(directorate, "")
            rows.append(
                {"cluster": cluster, "directorate": directorate, "indicator": indicator}
                | cell.counts()
            )
    rows.sort(key=lambda r: (r["cluster"], r["directorate"], r["indicator"]))
    clusters, municipality = _totals(cluster_cells(session, [quarter]), quarter)
    return {
        "quarter": quarter,
        "suppressed": False,
        "rows": rows,
        "cluster_totals": clusters,
        "municipality_totals": municipality,
    }


def cluster_cells(session: Session, quarters: list[str]) -> dict[tuple[str, str, str], Cell]:
    """(quarter, cluster, indicator) -> Cell; cluster ``*`` is the whole municipality."""
    cluster_of, _, _ = organisation(session)
    totals: dict[tuple[str, str, str], Cell] = {}
    for (quarter, directorate, indicator), cell in directorate_cells(session, quarters).items():
        for cluster in (cluster_of.get(directorate, ""), MUNICIPALITY):
            totals.setdefault((quarter, cluster, indicator), Cell()).add(cell)
    return totals


def _totals(cells: dict[tuple[str, str, str], Cell], quarter: str) -> tuple[list, list]:
    clusters, municipality = [], []
    for (q, cluster, indicator), cell in sorted(cells.items()):
        if q != quarter or not cell.total:
            continue
        if cluster == MUNICIPALITY:
            municipality.append({"indicator": indicator} | cell.counts())
        else:
            clusters.append({"cluster": cluster, "indicator": indicator} | cell.counts())
    return clusters, municipality


def published_pct(row: dict[str, Any]) -> float | None:
    """% met of a published row, or None when met or total is hidden (it would reveal them)."""
    met, total = row["met"], row["total"]
    if isinstance(met, int) and isinstance(total, int) and total:
        return round(100 * met / total, 1)
    return None


def published_status(row: dict[str, Any]) -> str:
    """The norm status as far as the published figures tell (a ``<k`` count may be zero)."""
    counts = {name: row[name] for name in OUTCOMES}
    if all(isinstance(v, int) for v in counts.values()):
        return Cell(**counts).status
    if counts["not_met"] == HIDDEN or (isinstance(counts["not_met"], int) and counts["not_met"]):
        return "below_norm"
    if counts["not_met"] != 0:
        return "unknown"
    deviations = (counts["explained"], counts["released"])
    if any(v == HIDDEN or (isinstance(v, int) and v) for v in deviations):
        return "explained"
    return "on_norm" if deviations == (0, 0) else "unknown"


def trend(
    session: Session, last: str, publish: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[dict[str, Any]]:
    """% met per indicator for clusters and municipality over the last quarters, as published."""
    out = []
    for quarter in recent_quarters(last, TREND_QUARTERS):
        report = publish(quarter_report(session, quarter))
        for row in report["cluster_totals"]:
            out.append({"quarter": quarter, "cluster": row["cluster"]} | _trend_point(row))
        for row in report["municipality_totals"]:
            out.append({"quarter": quarter, "cluster": MUNICIPALITY} | _trend_point(row))
    return out


def _trend_point(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "indicator": row["indicator"],
        "met": row["met"],
        "total": row["total"],
        "pct_met": published_pct(row),
    }


def deviations(session: Session, quarter: str) -> list[dict[str, Any]]:
    """Every step of ``quarter`` that did not end met, with its (later) explanation if any."""
    finished = session.exec(
        select(Transition)
        .where(Transition.quarter == quarter, Transition.event != "explain")
        .where(Transition.outcome.in_(("explained", "not_met", "released")))  # type: ignore[union-attr]
        .order_by(Transition.directorate, Transition.vacancy, Transition.seq)  # type: ignore[arg-type]
    ).all()
    amended = {
        (t.vacancy, t.indicator): t
        for t in session.exec(
            select(Transition)
            .where(Transition.quarter == quarter, Transition.event == "explain")
            .order_by(Transition.seq)  # type: ignore[arg-type]
        )
    }
    cluster_of, _, _ = organisation(session)
    rows = []
    for step in finished:
        late = amended.get((step.vacancy, step.indicator))
        source = late or step
        rows.append(
            {
                "vacancy": step.vacancy,
                "cluster": cluster_of.get(step.directorate, ""),
                "directorate": step.directorate,
                "indicator": step.indicator or "",
                "step": INDICATOR_LABELS.get(step.indicator or "", ""),
                "outcome": "explained" if late else step.outcome,
                "at": step.at,
                "explanation": _explanation(source, step.outcome),
            }
        )
    return rows


def exit_reasons(
    session: Session, quarter: str, threshold: int, suppress: bool
) -> list[dict[str, Any]]:
    """Exit-interview reasons per cluster (DOMAIN.md: tallied per cluster and year), for the
    quarter's year up to and including the quarter: ``{cluster, reason, count}``.

    Published, a count 0 < n < k shows as ``<k``. No totals are published beside them (an
    interview may give several reasons, so the counts add up to nothing), so primary
    suppression alone leaves nothing to recover.
    """
    year, _ = parse_quarter(quarter)
    statement = (
        select(Directorate.cluster_code, ExitReason.code, func.count())
        .join(Directorate, Directorate.code == ExitReason.directorate)  # type: ignore[arg-type]
        .join(Transition, Transition.id == ExitReason.transition_id)  # type: ignore[arg-type]
        .where(ExitReason.year == year, Transition.at <= quarter_end(quarter))
        .group_by(Directorate.cluster_code, ExitReason.code)
        .order_by(Directorate.cluster_code, ExitReason.code)
    )
    rows = []
    for cluster, reason, count in session.exec(statement):
        shown: int | str = count
        if suppress and 0 < count < threshold:
            shown = f"<{threshold}"
        rows.append({"cluster": cluster, "reason": reason, "count": shown})
    return rows


def _explanation(source: Transition, outcome: str | None) -> str:
    text = str(source.data.get("explanation") or "").strip()
    if text:
        return text
    if outcome == "released":
        return "Rooney Rule losgelaten na de laatste ronde"
    return NO_EXPLANATION


@dataclass
class ReportBook:
    """Everything one kwartaalrapportage shows: figures, trend, deviations, names."""

    report: dict[str, Any]
    trend: list[dict[str, Any]]
    deviations: list[dict[str, Any]]
    cluster_names: dict[str, str]
    directorate_names: dict[str, str]
    threshold: int
    exit_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def quarters(self) -> list[str]:
        return recent_quarters(self.report["quarter"], TREND_QUARTERS)

    def exit_reason_table(self) -> tuple[list[str], list[tuple[str, list[int | str]]]]:
        """The exit reasons as (reason codes, [(cluster name, count per reason)]); 0 absent."""
        reasons = sorted({row["reason"] for row in self.exit_reasons})
        counts = {(row["cluster"], row["reason"]): row["count"] for row in self.exit_reasons}
        clusters = sorted({row["cluster"] for row in self.exit_reasons})
        return reasons, [
            (self.cluster_names.get(c, c), [counts.get((c, r), 0) for r in reasons])
            for c in clusters
        ]


def report_book(
    session: Session, quarter: str, threshold: int, suppress: bool = True
) -> ReportBook:
    """The kwartaalrapportage of ``quarter``; suppressed for publication unless told otherwise.

    The per-vacancy deviation list is internal: the published book leaves it out, since it
    would reveal the small counts that suppression hides.
    """

    def publish(report: dict[str, Any]) -> dict[str, Any]:
        return suppress_report(report, threshold) if suppress else report

    _, cluster_names, directorate_names = organisation(session)
    return ReportBook(
        report=publish(quarter_report(session, quarter)),
        trend=trend(session, quarter, publish),
        deviations=[] if suppress else deviations(session, quarter),
        cluster_names=cluster_names,
        directorate_names=directorate_names,
        threshold=threshold,
        exit_reasons=exit_reasons(session, quarter, threshold, suppress),
    )
