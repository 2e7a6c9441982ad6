"""An attacker who keeps every published report and reads them all together.

It knows only what is published (every closed quarter's report in every version, with its
corrections and, where published, exit reasons; every yearly report) and how idflow
publishes: ``<k`` is 0..k-1 (and 1..k-1 for a count that is shown only when not zero), ``x``
is k or more, ``-`` says nothing; rows add up to their totals and directorates to clusters to
the municipality; a report lists every active directorate, or (before that rule) only the
directorates with counts. And how vacancies behave:

- counts only grow: between two publications of a quarter met, released and explained never
  fall, not_met falls only by as much as explained rises (``explain``);
- a listed correction is a difference that is not zero, and corrections listed against a
  snapshot add up to the change since it;
- the steps come in order: per directorate, at each report's close, the running total of a
  step over the quarters since the first published one never exceeds that of the step before;
- a yearly report adds to each quarter's snapshot the corrections published with figures;
- exit reasons are given in held interviews, so a cluster's reason count is at most its I6
  ``met`` (offered interviews) over the period it covers, and counts only grow in a year.

Everything is one linear program (scipy's HiGHS). ``pinned`` are the hidden figures it
narrows to one whole value; ``attributed`` are the exit reasons it ties to fewer than two
directorates. It is written apart from idflow's own audit, on purpose.
"""

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

OUTCOMES = ("met", "explained", "released", "not_met")
COLUMNS = (*OUTCOMES, "total")
STEPS = ("I2", "I3", "I4", "I5", "I6")
INF = float("inf")
Expr = dict[int, float]


@dataclass
class Quarterly:
    """One published version of a quarter's report, as a reader has it."""

    quarter: str
    version: int
    moment: tuple[Any, ...]
    report: dict[str, Any]
    reasons: list[dict[str, Any]]  # exit reasons published with it (year to date)
    only_nonempty_rows: bool


@dataclass
class Yearly:
    year: int
    moment: tuple[Any, ...]
    report: dict[str, Any]


@dataclass
class ReasonFigure:
    """A published exit-reason count: of which cluster, over which quarters, seen when."""

    publication: str
    cluster: str
    reason: str
    count: int  # its unknown
    window: list[str]
    moment: tuple[Any, ...]
    yearly: bool


def _plus(*exprs: Expr) -> Expr:
    out: Expr = {}
    for expr in exprs:
        for v, c in expr.items():
            out[v] = out.get(v, 0.0) + c
    return out


def _neg(expr: Expr) -> Expr:
    return {v: -c for v, c in expr.items()}


@dataclass
class Attack:
    publications: list[Quarterly | Yearly]
    k: int = 5
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    rows: list[tuple[Expr, float, float]] = field(default_factory=list)
    hidden: list[tuple[str, tuple[Any, ...], Expr, float, float]] = field(default_factory=list)
    reasons: list[ReasonFigure] = field(default_factory=list)

    def var(self, low: float = 0, high: float = INF) -> int:
        self.lower.append(low)
        self.upper.append(high)
        return len(self.lower) - 1

    def know(self, expr: Expr, low: float, high: float = INF) -> None:
        self.rows.append((expr, low, high))

    def face(self, name: str, key: tuple[Any, ...], expr: Expr, shown: Any, floor: int) -> None:
        """What one published figure says."""
        if isinstance(shown, int):
            self.know(expr, shown, shown)
            return
        k = self.k
        low, high = {f"<{k}": (floor, k - 1), "x": (k, INF), "-": (-INF, INF)}[shown]
        self.know(expr, low, high)
        self.hidden.append((name, key, expr, low, high))

    # -- building ------------------------------------------------------------------------

    def build(self) -> "Attack":
        pubs = sorted(self.publications, key=lambda p: p.moment)
        self.x: dict[tuple[str, int], dict[tuple[str, str], dict[str, Expr]]] = {}
        self.listings: dict[tuple[str, int], list[tuple[Any, dict]]] = {}
        self.cluster: dict[str, str] = {}
        self.latest: dict[str, int] = {}
        quarterly = [p for p in pubs if isinstance(p, Quarterly)]
        self.start = min((p.quarter for p in quarterly), default=None)
        for pub in pubs:
            if isinstance(pub, Quarterly):
                self._quarterly(pub)
            else:
                self._yearly(pub)
        self._reason_growth(quarterly)
        return self

    def state(
        self, quarter: str, version: int, moment: Any, told: bool = False
    ) -> dict[tuple[str, str], dict]:
        """A quarter's counts after the publications up to ``moment``; ``told``: adding only
        the corrections published with figures (a yearly report's quarter figures)."""
        cells = {key: dict(v) for key, v in self.x[(quarter, version)].items()}
        for at, listing in self.listings.get((quarter, version), []):
            if at <= moment:
                for key, diff in listing.items():
                    if told and not diff["told"]:
                        continue
                    mine = cells.setdefault(key, {o: {} for o in OUTCOMES})
                    for o in OUTCOMES:
                        mine[o] = _plus(mine[o], diff[o])
        return cells

    def _quarterly(self, pub: Quarterly) -> None:
        report, name = pub.report, f"{pub.quarter} v{pub.version}"
        versions_before = self.latest.copy()
        cells: dict[tuple[str, str], dict[str, Expr]] = {}
        for row in report["rows"]:
            key = (row["directorate"], row["indicator"])
            self.cluster[row["directorate"]] = row["cluster"]
            cells[key] = {o: {self.var(): 1.0} for o in OUTCOMES}
            for column in COLUMNS:
                expr = _plus(*cells[key].values()) if column == "total" else cells[key][column]
                floor = 1 if pub.only_nonempty_rows and column == "total" else 0
                self.face(name, ("d", *key, column), expr, row[column], floor)
        self.x[(pub.quarter, pub.version)] = cells
        if pub.quarter in versions_before:  # a new version: counts only grew since the last
            before = self.state(pub.quarter, versions_before[pub.quarter], pub.moment)
            for key in set(before) | set(cells):
                self._growth(before.get(key), cells.get(key))
        self.latest[pub.quarter] = pub.version
        for level, part in (("c", "cluster_totals"), ("m", "municipality_totals")):
            for total in report[part]:
                members = [
                    c
                    for (d, i), c in cells.items()
                    if i == total["indicator"]
                    and (level == "m" or self.cluster[d] == total["cluster"])
                ]
                place = total.get("cluster", "*")
                for column in COLUMNS:
                    expr = _plus(*(_col(c, column) for c in members))
                    floor = 1 if pub.only_nonempty_rows and column == "total" else 0
                    self.face(
                        name, (level, place, total["indicator"], column), expr, total[column], floor
                    )
        self._corrections(pub, name, versions_before)
        self._step_order(pub)
        self._quarter_reasons(pub, name)

    def _growth(self, before: dict | None, after: dict | None) -> None:
        before = before or {o: {} for o in OUTCOMES}
        after = after or {o: {} for o in OUTCOMES}
        delta = {o: _plus(after[o], _neg(before[o])) for o in OUTCOMES}
        for o in ("met", "released", "explained"):
            self.know(delta[o], 0)
        self.know(_plus(delta["explained"], delta["not_met"]), 0)

    def _corrections(self, pub: Quarterly, name: str, versions: dict[str, int]) -> None:
        per_quarter: dict[str, dict] = {}
        for row in pub.report.get("corrections", []):
            quarter = row["quarter"]
            if quarter not in versions:
                continue
            key = (row["directorate"], row["indicator"])
            diff = {o: {self.var(0 if o != "not_met" else -INF): 1.0} for o in OUTCOMES}
            self.know(_plus(diff["explained"], diff["not_met"]), 0)
            self.know(_plus(*diff.values(), diff["explained"]), 1)  # listed: not zero
            for column in COLUMNS:
                expr = _plus(*diff.values()) if column == "total" else diff[column]
                self.face(name, ("corr", quarter, *key, column), expr, row[column], 0)
            per_quarter.setdefault(quarter, {})[key] = diff | {
                "told": isinstance(row["total"], int)
            }
        for quarter, listing in per_quarter.items():
            against = (quarter, versions[quarter])
            self.listings.setdefault(against, []).append((pub.moment, listing))
            state = self.state(*against, pub.moment)
            for key in listing:
                self.know(state[key]["not_met"], 0)

    def known_at(self, pub: Quarterly) -> dict[str, dict]:
        known = {}
        for quarter, version in self.latest.items():
            if quarter <= pub.quarter:
                known[quarter] = self.state(quarter, version, pub.moment)
        return known

    def _step_order(self, pub: Quarterly) -> None:
        known = self.known_at(pub)
        prefix, quarter = [], self.start
        while quarter in known and quarter <= pub.quarter:
            prefix.append(known[quarter])
            quarter = _next(quarter)
        for directorate in {d for cells in prefix for d, _ in cells}:
            for earlier, later in zip(STEPS, STEPS[1:], strict=False):
                running: Expr = {}
                for cells in prefix:
                    running = _plus(
                        running,
                        _total(cells.get((directorate, earlier))),
                        _neg(_total(cells.get((directorate, later)))),
                    )
                    self.know(running, 0)

    def _quarter_reasons(self, pub: Quarterly, name: str) -> None:
        """Exit reasons published with a quarter (year to date, zeros not shown)."""
        if not pub.reasons:
            return
        year = pub.quarter[:4]
        known = self.known_at(pub)
        window = [q for q in known if q.startswith(year)]
        for row in pub.reasons:
            count = self.var()
            self.face(
                name, ("reason", row["cluster"], row["reason"]), {count: 1.0}, row["count"], 1
            )
            offered = self._offered(known, window, row["cluster"])
            self.know(_plus(offered, {count: -1.0}), 0)
            self.reasons.append(
                ReasonFigure(
                    name, row["cluster"], row["reason"], count, window, pub.moment, yearly=False
                )
            )

    def _offered(self, known: dict[str, dict], window: list[str], cluster: str) -> Expr:
        return _plus(
            *(
                cells["met"]
                for q in window
                for (d, i), cells in known[q].items()
                if i == "I6" and self.cluster.get(d) == cluster
            )
        )

    def _reason_growth(self, pubs: list[Quarterly]) -> None:
        """Within a year, a cluster's year-to-date reason counts only grow."""
        seen: dict[tuple[str, str, str], int] = {}
        for figure in self.reasons:
            if figure.yearly:
                continue
            key = (figure.window[0][:4], figure.cluster, figure.reason)
            if key in seen:
                self.know({figure.count: 1.0, seen[key]: -1.0}, 0)
            seen[key] = figure.count

    def _yearly(self, pub: Yearly) -> None:
        report, name = pub.report, f"jaar {pub.year}"
        states = {
            q: self.state(q, int(s["version"]), pub.moment, told=True)
            for q, s in report["sources"].items()
        }
        section = report["sections"]["indicators"]
        periods = dict(states)
        periods[str(pub.year)] = {}
        for cells in states.values():
            for key, c in cells.items():
                mine = periods[str(pub.year)].setdefault(key, {o: {} for o in OUTCOMES})
                for o in OUTCOMES:
                    mine[o] = _plus(mine[o], c[o])
        for level, part in (("c", "cluster_totals"), ("m", "municipality_totals")):
            for total in section[part]:
                cells = periods[total["period"]]
                members = [
                    c
                    for (d, i), c in cells.items()
                    if i == total["indicator"]
                    and (level == "m" or self.cluster.get(d) == total["cluster"])
                ]
                for column in COLUMNS:
                    expr = _plus(*(_col(c, column) for c in members))
                    key = (
                        "y",
                        total["period"],
                        total.get("cluster", "*"),
                        total["indicator"],
                        column,
                    )
                    self.face(name, key, expr, total[column], 0)
        year = periods[str(pub.year)]
        for row in report["sections"]["exit_reasons"]["clusters"]:
            if not row["published"]:
                continue
            offered = _plus(
                *(
                    c["met"]
                    for (d, i), c in year.items()
                    if i == "I6" and self.cluster.get(d) == row["cluster"]
                )
            )
            self.know(offered, self.k)
            for reason, shown in row["reasons"].items():
                count = self.var()
                self.face(name, ("reason", row["cluster"], reason), {count: 1.0}, shown, 0)
                self.know(_plus(offered, {count: -1.0}), 0)
                self.reasons.append(
                    ReasonFigure(
                        name, row["cluster"], reason, count, list(states), pub.moment, yearly=True
                    )
                )

    # -- solving -------------------------------------------------------------------------

    def _matrices(self) -> None:
        n = len(self.lower)
        eq_rows, eq_b, ub_rows, ub_b = [], [], [], []
        for expr, low, high in self.rows:
            if not expr:
                continue
            if low == high:
                eq_rows.append(expr)
                eq_b.append(low)
                continue
            if high < INF:
                ub_rows.append(expr)
                ub_b.append(high)
            if low > -INF:
                ub_rows.append(_neg(expr))
                ub_b.append(-low)
        self.a_eq, self.b_eq = _sparse(eq_rows, n), np.array(eq_b)
        self.a_ub, self.b_ub = _sparse(ub_rows, n), np.array(ub_b)
        self.bounds = [
            (lo if lo > -INF else None, hi if hi < INF else None)
            for lo, hi in zip(self.lower, self.upper, strict=True)
        ]
        self.n = n

    def maximise(self, objective: Expr) -> np.ndarray | None:
        c = np.zeros(self.n)
        for v, w in objective.items():
            c[v] -= w
        box = [(lo, 10**6 if hi is None else hi) for lo, hi in self.bounds]
        result = linprog(
            c,
            A_ub=self.a_ub,
            b_ub=self.b_ub,
            A_eq=self.a_eq,
            b_eq=self.b_eq,
            bounds=box,
            method="highs",
        )
        assert result.status in (0, 3), f"the published figures are inconsistent: {result}"
        return result.x if result.status == 0 else None

    def ranges(self) -> dict[tuple[str, tuple], tuple[float, float]]:
        """The lowest and highest value of every hidden figure, found by pushing many
        figures at once and then, for those still narrow, one at a time."""
        self._matrices()
        rng = random.Random(7)
        first = self.maximise({})
        assert first is not None
        lo = [_value(expr, first) for _, _, expr, _, _ in self.hidden]
        hi = list(lo)

        def see(point: np.ndarray | None) -> None:
            if point is not None:
                for j, (_, _, expr, _, _) in enumerate(self.hidden):
                    value = _value(expr, point)
                    lo[j], hi[j] = min(lo[j], value), max(hi[j], value)

        def narrow() -> list[int]:
            return [
                j
                for j in range(len(self.hidden))
                if math.floor(hi[j] + 1e-6) - math.ceil(lo[j] - 1e-6) < 1
            ]

        pending = narrow()
        for round_ in range(30):
            if len(pending) < 4:
                break
            signs = {
                j: (1 if round_ == 0 else -1 if round_ == 1 else rng.choice((1, -1)))
                for j in pending
            }
            see(
                self.maximise(
                    _plus(
                        *(
                            {v: s * c for v, c in self.hidden[j][2].items()}
                            for j, s in signs.items()
                        )
                    )
                )
            )
            left = narrow()
            if round_ > 2 and len(pending) - len(left) < max(1, len(pending) // 20):
                pending = left
                break
            pending = left
        for j in pending:
            for sign in (1, -1):
                if j in narrow():
                    see(self.maximise({v: sign * c for v, c in self.hidden[j][2].items()}))
        return {(name, key): (lo[j], hi[j]) for j, (name, key, _, _, _) in enumerate(self.hidden)}

    def pinned(self) -> list[tuple[str, tuple, float]]:
        return [
            (name, key, low)
            for (name, key), (low, high) in self.ranges().items()
            if math.floor(high + 1e-6) - math.ceil(low - 1e-6) < 1
        ]

    def attributed(self) -> list[tuple[str, str, str, list[str]]]:
        """Exit reasons possibly given, with the directorates that could have held an
        interview in the period the count covers: a leak when fewer than two."""
        self._matrices()
        out, possible = [], {}
        for figure in self.reasons:
            point = self.maximise({figure.count: 1.0})
            if point is not None and point[figure.count] < 0.5:
                continue  # certainly not given
            givers = []
            for directorate in sorted(d for d, c in self.cluster.items() if c == figure.cluster):
                key = (directorate, tuple(figure.window), figure.moment)
                if key not in possible:
                    possible[key] = self._may_have_interviewed(directorate, figure)
                if possible[key]:
                    givers.append(directorate)
            if len(givers) < 2:
                out.append((figure.publication, figure.cluster, figure.reason, givers))
        return out

    def _may_have_interviewed(self, directorate: str, figure: ReasonFigure) -> bool:
        expr = _plus(
            *(
                self._state_at(q, figure.moment).get((directorate, "I6"), {}).get("met", {})
                for q in figure.window
            )
        )
        if not expr:
            return False  # never listed: no interview
        point = self.maximise(expr)
        return point is None or _value(expr, point) >= 0.5

    def _state_at(self, quarter: str, moment: Any) -> dict:
        versions = [v for (q, v) in self.x if q == quarter]
        return self.state(quarter, max(versions), moment) if versions else {}


def _col(cells: dict[str, Expr], column: str) -> Expr:
    return _plus(*cells.values()) if column == "total" else cells[column]


def _total(cells: dict | None) -> Expr:
    return _plus(*cells.values()) if cells else {}


def _value(expr: Expr, point: np.ndarray) -> float:
    return float(sum(c * point[v] for v, c in expr.items()))


def _sparse(rows: list[Expr], n: int) -> csr_matrix | None:
    if not rows:
        return None
    data, indices, starts = [], [], [0]
    for expr in rows:
        indices += list(expr)
        data += list(expr.values())
        starts.append(len(indices))
    return csr_matrix((data, indices, starts), shape=(len(rows), n))


def _next(quarter: str) -> str:
    year, number = int(quarter[:4]), int(quarter[5])
    return f"{year + number // 4}Q{number % 4 + 1}"


def moment(text: str, rank: int, quarter: str, version: int) -> tuple[Any, ...]:
    return (datetime.fromisoformat(text), rank, quarter, version)


def published_outputs(session: Any) -> list[Quarterly | Yearly]:
    """Every publication idflow has made: each stored version of each closed quarter's
    report, with the exit reasons it published, and each yearly report."""
    from procedures.report import Organisation
    from procedures.report_builder import build_report
    from procedures.snapshots import snapshot_versions

    only_nonempty = not hasattr(Organisation, "active")  # the listing rule of the code
    out: list[Quarterly | Yearly] = []
    for snapshot in snapshot_versions(session):
        book = build_report(session, snapshot.quarter, True, version=snapshot.version)
        when = moment(book.report["closed_at"], 0, snapshot.quarter, snapshot.version)
        out.append(
            Quarterly(
                snapshot.quarter,
                snapshot.version,
                when,
                book.report,
                book.exit_reasons,
                only_nonempty,
            )
        )
    try:
        from models import YearReport
        from procedures.report_year import build_year_report
    except ImportError:  # the code before yearly reports published none
        return out
    for year in session.exec(select_years(YearReport)):
        report = build_year_report(session, year, True).report
        out.append(Yearly(year, moment(report["published_at"], 1, "", 0), report))
    return out


def select_years(model: Any) -> Any:
    from sqlmodel import select

    return select(model.year).order_by(model.year)


def publish_year_if_known(session: Any, year: int, now: Any) -> None:
    """Publish ``year``'s report when the code has yearly reports (the code before them
    published exit reasons with every quarter instead)."""
    try:
        from procedures.report_year import publish_year
    except ImportError:
        return
    publish_year(session, year, "test", now=now)
