"""The reader model: everything a reader of all published reports together knows, as one
linear system (``procedures.disclosure_joint`` audits it and protects what it must; the
pieces are in ``procedures.disclosure_model``).

A reader keeps every publication: each closed quarter's report (every snapshot version, with
the corrections it lists) and each yearly report. The unknowns are the true counts behind
them, per directorate x indicator x outcome:

    X[S]      the counts a snapshot S froze (one set per snapshot version)
    L[R, q]   a correction listed by report R on an earlier quarter q (a difference)

and the state of quarter q after report R is ``X[S_q] + every listing on S_q up to R``.
What the reader knows of them:

- every published figure: a number is exact; ``<k`` is 0..k-1, ``x`` is k or more, ``-``
  says nothing; rows add up to their totals, directorates to their cluster, clusters to the
  municipality, a yearly report's quarters to its year;
- a report lists every active directorate (so a listed row says nothing), and an inactive
  one only when it has counts (so its row is not empty); reports closed before this rule
  listed only rows with counts;
- counts only grow: between two publications of a quarter met, released and explained never
  fall, and ``not_met`` falls only by as much as ``explained`` rises (``explain``); a listed
  correction is not zero; no count is negative at any moment;
- the steps come in order: per directorate, at the moment a report is closed, the running
  total of a step over the quarters from the first published one never exceeds that of the
  step before it (I2 >= I3 >= I4 >= I5 >= I6);
- a yearly report's quarter figures are the snapshot plus the corrections published with
  figures (a withheld correction adds nothing);
- exit reasons belong to held interviews: a cluster's reason count is at most its I6 ``met``
  (offered interviews) of the year, and a cluster's reasons are published only when at
  least k interviews were held.

Each figure keeps its true value, so the audit starts from a point it knows is feasible.
"""

from collections.abc import Iterable
from typing import Any

from procedures.disclosure import COLUMNS, COUNT_FIELDS, MUNICIPALITY
from procedures.disclosure_model import (
    INF,
    STEPS,
    Cells,
    Expr,
    Figure,
    Key,
    Model,
    Publication,
    QuarterPublication,
    YearPublication,
    growth,
    minus,
    plus,
    total,
)


class ReaderModel:
    """Builds the model of a list of publications (made in ``order``); ``new`` names the one
    being chosen now, whose figures the audit may still hide."""

    def __init__(self, publications: list[Publication], new: str | None, start: str | None):
        self.model = Model()
        self.new = new
        self.start = start  # the first quarter; None: the reader knows nothing before
        self.pubs = sorted(publications, key=lambda p: p.order)
        self.snapshots: dict[tuple[str, int], QuarterPublication] = {}
        self.x: dict[tuple[str, int], dict[tuple[str, str], Cells]] = {}
        self.listings: dict[tuple[str, int], list[tuple[float, dict[tuple[str, str], Cells]]]] = {}
        self.told: set[tuple[float, str, tuple[str, str]]] = set()  # listed with figures

    def build(self) -> Model:
        quarter_pubs = [p for p in self.pubs if isinstance(p, QuarterPublication)]
        for pub in quarter_pubs:
            self._snapshot(pub)
        for pub in quarter_pubs:
            self._corrections(pub)
        self._versions(quarter_pubs)
        for pub in quarter_pubs:
            self._step_order(pub)
        for year in self.pubs:
            if isinstance(year, YearPublication):
                self._year(year)
        return self.model

    # -- the state of a quarter at a moment ---------------------------------------------

    def state(
        self, quarter: str, version: int, order: float, told: bool = False
    ) -> dict[tuple[str, str], Cells]:
        """(directorate, indicator) -> outcome -> expression of quarter's counts after every
        publication up to ``order``; ``told``: with only the corrections published with
        figures (what a yearly report adds up)."""
        cells = {key: dict(value) for key, value in self.x[(quarter, version)].items()}
        for listed_at, listing in self.listings.get((quarter, version), []):
            if listed_at > order:
                break
            for key, diff in listing.items():
                if told and (listed_at, quarter, key) not in self.told:
                    continue
                mine = cells.setdefault(key, {})
                for outcome in COUNT_FIELDS:
                    mine[outcome] = plus(mine.get(outcome, {}), diff[outcome])
        return cells

    # -- quarter publications ------------------------------------------------------------

    def _figure(self, pub: Publication, key: Key, expr: Expr, truth: int, shown: Any) -> None:
        legacy = isinstance(pub, QuarterPublication) and pub.legacy and key[-1] == "total"
        self.model.figures.append(
            Figure(pub.name, key, expr, truth, shown, pub.name == self.new, pub.threshold,
                   legacy and key[0] == "d")
        )  # fmt: skip

    def _snapshot(self, pub: QuarterPublication) -> None:
        model, cells = self.model, {}
        shown = {(r["directorate"], r["indicator"]): r for r in pub.published["rows"]}
        for row in pub.internal["rows"]:
            key = (row["directorate"], row["indicator"])
            cells[key] = {o: {model.var(row[o]): 1.0} for o in COUNT_FIELDS}
        self.snapshots[(pub.quarter, pub.version)] = pub
        self.x[(pub.quarter, pub.version)] = cells
        for (directorate, indicator), outcome_cells in cells.items():
            face = shown[(directorate, indicator)]
            for column in COLUMNS:
                expr = total(outcome_cells) if column == "total" else outcome_cells[column]
                truth = int(model.value(expr))
                self._figure(pub, ("d", directorate, indicator, column), expr, truth, face[column])
            if pub.legacy:
                model.row(total(outcome_cells), 1)
        for directorate in pub.inactive:
            listed = [total(c) for (d, _), c in cells.items() if d == directorate]
            model.row(plus(*listed), 1)
        self._totals(pub, cells, pub.published)

    def _totals(
        self, pub: Publication, cells: dict[tuple[str, str], Cells], report: dict[str, Any]
    ) -> None:
        for row in report["cluster_totals"]:
            members = _members(cells, row["indicator"], pub.clusters, row["cluster"])
            self._sum_figures(pub, ("c", row["cluster"], row["indicator"]), members, row)
        for row in report["municipality_totals"]:
            members = _members(cells, row["indicator"])
            self._sum_figures(pub, ("m", MUNICIPALITY, row["indicator"]), members, row)

    def _sum_figures(
        self, pub: Publication, key: Key, members: list[Cells], face: dict[str, Any]
    ) -> None:
        for column in COLUMNS:
            if column == "total":
                expr = plus(*(total(c) for c in members))
            else:
                expr = plus(*(c.get(column, {}) for c in members))
            self._figure(pub, (*key, column), expr, int(self.model.value(expr)), face[column])

    def _corrections(self, pub: QuarterPublication) -> None:
        model = self.model
        faces = {(r["quarter"], r["directorate"], r["indicator"]): r
                 for r in pub.published.get("corrections", [])}  # fmt: skip
        per_quarter: dict[str, dict[tuple[str, str], Cells]] = {}
        for row in pub.internal.get("corrections", []):
            quarter, key = row["quarter"], (row["directorate"], row["indicator"])
            version = pub.corrects.get(quarter)
            if version is None or (quarter, version) not in self.x:
                continue
            diff = {o: {model.var(row[o], 0 if o != "not_met" else -INF): 1.0}
                    for o in COUNT_FIELDS}  # fmt: skip
            model.row(plus(diff["explained"], diff["not_met"]), 0)
            model.row(plus(total(diff), diff["explained"]), 1)  # a listed row is not zero
            per_quarter.setdefault(quarter, {})[key] = diff
            face = faces[(quarter, *key)]
            if isinstance(face["total"], int):
                self.told.add((pub.order, quarter, key))
            for column in COLUMNS:
                expr = total(diff) if column == "total" else diff[column]
                figure_key = ("corr", quarter, *key, column)
                self._figure(pub, figure_key, expr, int(row[column]), face[column])
        for quarter, listing in per_quarter.items():
            against = (quarter, pub.corrects[quarter])
            self.listings.setdefault(against, []).append((pub.order, listing))
            state = self.state(*against, pub.order)
            for key in listing:
                model.row(state[key]["not_met"], 0)

    def _versions(self, pubs: list[QuarterPublication]) -> None:
        by_quarter: dict[str, list[QuarterPublication]] = {}
        for pub in pubs:
            by_quarter.setdefault(pub.quarter, []).append(pub)
        for versions in by_quarter.values():
            for earlier, later in zip(versions, versions[1:], strict=False):
                before = self.state(earlier.quarter, earlier.version, later.order)
                after = self.x[(later.quarter, later.version)]
                for key in set(before) | set(after):
                    growth(self.model, before.get(key, {}), after.get(key, {}))

    def _known_at(self, pub: QuarterPublication) -> dict[str, dict[tuple[str, str], Cells]]:
        known = {pub.quarter: self.x[(pub.quarter, pub.version)]}
        for quarter, version in pub.corrects.items():
            if (quarter, version) in self.x:
                known[quarter] = self.state(quarter, version, pub.order)
        return known

    def _step_order(self, pub: QuarterPublication) -> None:
        if self.start is None:
            return
        known, prefix = self._known_at(pub), []
        quarter = self.start
        while quarter in known and quarter <= pub.quarter:
            prefix.append(known[quarter])
            quarter = _next(quarter)
        directorates = {d for cells in prefix for d, _ in cells}
        for directorate in directorates:
            for earlier, later in zip(STEPS, STEPS[1:], strict=False):
                running: Expr = {}
                for cells in prefix:
                    step = minus(total(cells.get((directorate, later), {})),
                                  total(cells.get((directorate, earlier), {})))  # fmt: skip
                    running = plus(running, step)
                    if running:
                        self.model.row({v: -c for v, c in running.items()}, 0)

    # -- yearly publications -------------------------------------------------------------

    def _year(self, pub: YearPublication) -> None:
        states = {q: self.state(q, v, pub.order, told=True) for q, v in sorted(pub.sources.items())}
        periods = {q: states[q] for q in states} | {str(pub.year): _sum_states(states.values())}
        section = pub.published["indicators"]
        for period, cells in periods.items():
            report = {
                "cluster_totals": [r for r in section["cluster_totals"] if r["period"] == period],
                "municipality_totals": [
                    r for r in section["municipality_totals"] if r["period"] == period
                ],
            }
            self._year_totals(pub, period, cells, report)
        self._exit_reasons(pub, periods[str(pub.year)])

    def _year_totals(
        self, pub: YearPublication, period: str, cells: dict[tuple[str, str], Cells], report: Any
    ) -> None:
        for row in report["cluster_totals"]:
            members = _members(cells, row["indicator"], pub.clusters, row["cluster"])
            self._sum_figures(pub, ("y", period, row["cluster"], row["indicator"]), members, row)
        for row in report["municipality_totals"]:
            members = _members(cells, row["indicator"])
            self._sum_figures(pub, ("y", period, MUNICIPALITY, row["indicator"]), members, row)

    def _exit_reasons(self, pub: YearPublication, year: dict[tuple[str, str], Cells]) -> None:
        model = self.model
        internal = {r["cluster"]: r for r in pub.internal["exit_reasons"]["clusters"]}
        for row in pub.published["exit_reasons"]["clusters"]:
            if not row.get("published"):
                continue
            offered = plus(*(c.get("met", {}) for (d, i), c in year.items()
                              if i == "I6" and pub.clusters.get(d) == row["cluster"]))  # fmt: skip
            model.row(offered, pub.threshold)  # published: at least k interviews held
            truth = internal[row["cluster"]]["reasons"]
            for reason, face in row["reasons"].items():
                count = model.var(truth[reason])
                model.row(minus(offered, {count: 1.0}), 0)
                key = ("reason", row["cluster"], reason)
                self._figure(pub, key, {count: 1.0}, int(truth[reason]), face)


def _members(
    cells: dict[tuple[str, str], Cells],
    indicator: str,
    clusters: dict[str, str] | None = None,
    cluster: str | None = None,
) -> list[Cells]:
    """The cells of ``indicator`` (of ``cluster``'s directorates only, when given)."""
    return [c for (d, i), c in cells.items()
            if i == indicator and (clusters is None or clusters.get(d) == cluster)]  # fmt: skip


def _sum_states(states: Iterable[dict[tuple[str, str], Cells]]) -> dict[tuple[str, str], Cells]:
    out: dict[tuple[str, str], Cells] = {}
    for cells in states:
        for key, outcome_cells in cells.items():
            mine = out.setdefault(key, {})
            for outcome, expr in outcome_cells.items():
                mine[outcome] = plus(mine.get(outcome, {}), expr)
    return out


def _next(quarter: str) -> str:
    year, number = int(quarter[:4]), int(quarter[5])
    return f"{year + number // 4}Q{number % 4 + 1}"
