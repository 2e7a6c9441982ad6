"""The kwartaalrapportage's figures: rows per directorate and indicator from the tallies,
rolled up along the organisation to cluster and municipality, the norm classification, the
deviations and the exit-interview reasons. ``procedures.report_builder`` assembles them into
a report (and is the one place that does)."""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from models import Cluster, Directorate, ExitReason, Tally, Transition
from procedures.calendar import parse_quarter, quarter_end
from procedures.disclosure import HIDDEN, MUNICIPALITY
from procedures.policy import AMSTERDAM

OUTCOMES = ("met", "explained", "released", "not_met")
COUNTS = (*OUTCOMES, "total")
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
# A report's status (DOMAIN.md: the codes are the Dutch words themselves).
PROVISIONAL, CLOSED = "voorlopig", "vastgesteld"
# What every unsuppressed figure on a console, page or file says about itself.
INTERNAL = "intern, niet publiceren"
NO_EXPLANATION = "geen toelichting"


@dataclass
class Cell:
    """Counts of one indicator in one place (directorate, cluster or municipality)."""

    met: int = 0
    explained: int = 0
    released: int = 0
    not_met: int = 0

    @classmethod
    def of(cls, row: dict[str, Any]) -> "Cell":
        return cls(**{name: row[name] for name in OUTCOMES})

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

    def add(self, other: "Cell", sign: int = 1) -> None:
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))

    def is_zero(self) -> bool:
        return all(getattr(self, name) == 0 for name in OUTCOMES)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in OUTCOMES} | {"total": self.total}


@dataclass(frozen=True)
class Line:
    """One line of the walk from the municipality down: its level, names and figures."""

    level: str  # gemeente, cluster, directie
    cluster: str
    name: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Organisation:
    """Clusters and directorates as they stand (or stood, in a snapshot)."""

    clusters: dict[str, str]  # code -> name
    directorates: dict[str, dict[str, Any]]  # code -> {"name", "cluster", "active"}

    @classmethod
    def load(cls, session: Session) -> "Organisation":
        clusters = {c.code: c.name for c in session.exec(select(Cluster))}
        directorates = {
            d.code: {"name": d.name, "cluster": d.cluster_code, "active": d.active}
            for d in session.exec(select(Directorate))
        }
        return cls(clusters, directorates)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Organisation":
        return cls(dict(data["clusters"]), {k: dict(v) for k, v in data["directorates"].items()})

    def active(self) -> list[str]:
        """The active directorates (an organisation stored before ``active`` existed: all)."""
        return sorted(d for d, data in self.directorates.items() if data.get("active", True))

    def to_json(self) -> dict[str, Any]:
        directorates = {code: self.directorates[code] for code in sorted(self.directorates)}
        return {"clusters": dict(sorted(self.clusters.items())), "directorates": directorates}

    def cluster_of(self, directorate: str) -> str:
        return self.directorates.get(directorate, {}).get("cluster", "")

    def cluster_name(self, code: str) -> str:
        return "Gemeente" if code == MUNICIPALITY else self.clusters.get(code, code)

    def directorate_name(self, code: str) -> str:
        return self.directorates.get(code, {}).get("name", code)

    def ordered(self, directorates: Collection[str]) -> list[str]:
        """Directorate codes in report order: by cluster, then code."""
        return sorted(directorates, key=lambda code: (self.cluster_of(code), code))

    def roll_up(self, quarter: str, cells: dict[tuple[str, str], Cell]) -> dict[str, Any]:
        """A quarter's figures from (directorate, indicator) cells: DOMAIN.md rows plus the
        cluster and municipal totals (the walk up from directorate to municipality).

        Every active directorate has a row for every indicator, empty or not, and so has
        every other directorate with counts: a listed row tells a reader nothing."""
        listed = {(d, i): Cell() for d in self.active() for i in INDICATORS}
        listed |= {key: cell for key, cell in cells.items() if cell.total}
        rows, totals = [], dict[tuple[str, str], Cell]()
        for (directorate, indicator), cell in listed.items():
            cluster = self.cluster_of(directorate)
            rows.append(
                {"cluster": cluster, "directorate": directorate, "indicator": indicator}
                | cell.counts()
            )
            for place in (cluster, MUNICIPALITY):
                totals.setdefault((place, indicator), Cell()).add(cell)
        rows.sort(key=lambda r: (r["cluster"], r["directorate"], r["indicator"]))
        ordered = sorted(totals.items())
        return {
            "quarter": quarter,
            "rows": rows,
            "cluster_totals": [
                {"cluster": place, "indicator": indicator} | cell.counts()
                for (place, indicator), cell in ordered
                if place != MUNICIPALITY
            ],
            "municipality_totals": [
                {"indicator": indicator} | cell.counts()
                for (place, indicator), cell in ordered
                if place == MUNICIPALITY
            ],
        }

    def walk(self, report: dict[str, Any], indicator: str) -> Iterator[Line]:
        """The municipality, then each cluster followed by its directorates (the walk down)."""
        for row in report["municipality_totals"]:
            if row["indicator"] == indicator:
                yield Line("gemeente", "", "Gemeente", row)
        for total in report["cluster_totals"]:
            if total["indicator"] != indicator:
                continue
            cluster = self.cluster_name(total["cluster"])
            yield Line("cluster", cluster, cluster, total)
            for row in report["rows"]:
                if row["cluster"] == total["cluster"] and row["indicator"] == indicator:
                    yield Line("directie", cluster, self.directorate_name(row["directorate"]), row)


def directorate_cells(session: Session, quarters: list[str]) -> dict[tuple[str, str, str], Cell]:
    """(quarter, directorate, indicator) -> Cell, from the rolled-up tallies (as they stand)."""
    statement = select(Tally).where(col(Tally.quarter).in_(quarters), Tally.count != 0)
    cells: dict[tuple[str, str, str], Cell] = {}
    for tally in session.exec(statement):
        cell = cells.setdefault((tally.quarter, tally.directorate, tally.indicator), Cell())
        setattr(cell, tally.outcome, getattr(cell, tally.outcome) + tally.count)
    return cells


def of_quarter(
    cells: dict[tuple[str, str, str], Cell], quarter: str
) -> dict[tuple[str, str], Cell]:
    return {(d, i): cell for (q, d, i), cell in cells.items() if q == quarter}


def total_cells(report: dict[str, Any]) -> dict[tuple[str, str], Cell]:
    """An unsuppressed report's totals as (cluster code or ``*``, indicator) -> Cell."""
    cells = {(r["cluster"], r["indicator"]): Cell.of(r) for r in report["cluster_totals"]}
    cells |= {(MUNICIPALITY, r["indicator"]): Cell.of(r) for r in report["municipality_totals"]}
    return cells


def row_cells(report: dict[str, Any]) -> dict[tuple[str, str], Cell]:
    """An unsuppressed report's rows as (directorate, indicator) -> Cell."""
    return {(r["directorate"], r["indicator"]): Cell.of(r) for r in report["rows"]}


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


def trend_points(quarter: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """% met per indicator for the clusters and the municipality of one quarter's report."""
    places = [(row["cluster"], row) for row in report["cluster_totals"]]
    places += [(MUNICIPALITY, row) for row in report["municipality_totals"]]
    return [
        {"quarter": quarter, "cluster": place, "indicator": row["indicator"], "met": row["met"],
         "total": row["total"], "pct_met": published_pct(row)}
        for place, row in places
    ]  # fmt: skip


def deviations(session: Session, quarter: str, org: Organisation) -> list[dict[str, Any]]:
    """Every step of ``quarter`` that did not end met, with its (later) explanation if any."""
    finished = session.exec(
        select(Transition)
        .where(Transition.quarter == quarter, Transition.event != "explain")
        .where(col(Transition.outcome).in_(("explained", "not_met", "released")))
        .order_by(col(Transition.directorate), col(Transition.vacancy), col(Transition.seq))
    ).all()
    amended = {
        (t.vacancy, t.indicator): t
        for t in session.exec(
            select(Transition)
            .where(Transition.quarter == quarter, Transition.event == "explain")
            .order_by(col(Transition.seq))
        )
    }
    rows = []
    for step in finished:
        late = amended.get((step.vacancy, step.indicator))
        rows.append(
            {
                "vacancy": step.vacancy,
                "cluster": org.cluster_of(step.directorate),
                "directorate": step.directorate,
                "indicator": step.indicator or "",
                "step": INDICATOR_LABELS.get(step.indicator or "", ""),
                "outcome": "explained" if late else step.outcome,
                "at": step.at.astimezone(AMSTERDAM).isoformat(),
                "explanation": _explanation(late or step, step.outcome),
            }
        )
    return rows


def _explanation(source: Transition, outcome: str | None) -> str:
    text = str(source.data.get("explanation") or "").strip()
    if text:
        return text
    if outcome == "released":
        return "Rooney Rule losgelaten na de laatste ronde"
    return NO_EXPLANATION


def exit_reasons(session: Session, quarter: str, org: Organisation) -> list[dict[str, Any]]:
    """Exit-interview reasons per cluster (DOMAIN.md: tallied per cluster and year), for the
    quarter's year up to and including the quarter: ``{cluster, reason, count}``."""
    year, _ = parse_quarter(quarter)
    statement = (
        select(ExitReason.directorate, ExitReason.code, func.count())
        .join(Transition, col(Transition.id) == ExitReason.transition_id)
        .where(ExitReason.year == year, Transition.at <= quarter_end(quarter))
        .group_by(col(ExitReason.directorate), col(ExitReason.code))
    )
    counts: dict[tuple[str, str], int] = {}
    for directorate, reason, count in session.exec(statement):
        key = (org.cluster_of(directorate), reason)
        counts[key] = counts.get(key, 0) + count
    return [
        {"cluster": cluster, "reason": reason, "count": count}
        for (cluster, reason), count in sorted(counts.items())
    ]
