"""The reader model's pieces: publications as a reader has them (and as they are), figures
as linear expressions over the true counts behind them, and the model (unknowns, rows of
knowledge, figures) that ``procedures.disclosure_reader`` builds and
``procedures.disclosure_lp`` audits.
"""

from dataclasses import dataclass, field
from typing import Any

from procedures.disclosure import COUNT_FIELDS, HIDDEN, WITHHELD

INF = float("inf")
STEPS = ("I2", "I3", "I4", "I5", "I6")
Expr = dict[int, float]
Key = tuple[Any, ...]


def below(k: int) -> str:
    return f"<{k}"


@dataclass
class QuarterPublication:
    """One snapshot version as the reader sees it (``published``) and as it is (``internal``)."""

    name: str  # e.g. "2025Q1 versie 1"
    quarter: str
    version: int
    order: float  # publications in the order they were made
    threshold: int
    clusters: dict[str, str]  # directorate -> cluster at the close
    inactive: frozenset[str]  # listed directorates that were not active at the close
    legacy: bool  # closed when only rows with counts were listed
    internal: dict[str, Any]
    published: dict[str, Any]
    corrects: dict[str, int]  # quarter -> snapshot version its corrections are against


@dataclass
class YearPublication:
    """A yearly report: per cluster and the municipality, the four quarters and the year,
    from the snapshots in force plus the corrections published before it; exit reasons."""

    name: str
    year: int
    order: float
    threshold: int
    clusters: dict[str, str]
    sources: dict[str, int]  # quarter -> snapshot version
    internal: dict[str, Any]
    published: dict[str, Any]


Publication = QuarterPublication | YearPublication


@dataclass
class Figure:
    """One published figure: its expression over the unknowns, true value and what shows."""

    publication: str
    key: Key
    expr: Expr
    truth: int
    shown: Any
    new: bool
    threshold: int
    legacy_total: bool = False

    @property
    def hidden(self) -> bool:
        return not isinstance(self.shown, int)

    def bounds(self) -> tuple[float, float]:
        """What the figure's face tells: exact, ``<k``, ``x`` (k or more) or nothing."""
        shown, k = self.shown, self.threshold
        if isinstance(shown, int):
            return shown, shown
        if shown == below(k):
            return (1 if self.legacy_total else 0), k - 1
        if shown == HIDDEN:
            return k, INF
        assert shown == WITHHELD, f"unexpected published figure {shown!r}"
        return -INF, INF


@dataclass
class Model:
    """Unknowns with bounds and true values, rows ``lo <= expr <= hi``, and the figures."""

    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    rows: list[tuple[Expr, float, float]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    _seen: set[frozenset[tuple[int, float]]] = field(default_factory=set)

    def var(self, truth: float, lower: float = 0, upper: float = INF) -> int:
        self.lower.append(lower)
        self.upper.append(upper)
        self.truth.append(truth)
        return len(self.truth) - 1

    def row(self, expr: Expr, lower: float, upper: float = INF) -> None:
        expr = {v: c for v, c in expr.items() if c}
        if not expr:
            return
        signature = frozenset(expr.items()) | {(-1, lower), (-2, upper)}
        if signature not in self._seen:  # the same knowledge from two moments: once
            self._seen.add(signature)
            self.rows.append((expr, lower, upper))

    def value(self, expr: Expr, point: list[float] | None = None) -> float:
        point = self.truth if point is None else point
        return sum(c * point[v] for v, c in expr.items())


def plus(*exprs: Expr) -> Expr:
    out: Expr = {}
    for expr in exprs:
        for v, c in expr.items():
            out[v] = out.get(v, 0) + c
    return out


def minus(a: Expr, b: Expr) -> Expr:
    return plus(a, {v: -c for v, c in b.items()})


Cells = dict[str, Expr]  # outcome -> expression


def total(cells: Cells) -> Expr:
    return plus(*(cells.get(o, {}) for o in COUNT_FIELDS))


def growth(model: Model, before: Cells, after: Cells) -> None:
    """Counts only grow; ``explain`` moves not_met to explained."""
    delta = {o: minus(after.get(o, {}), before.get(o, {})) for o in COUNT_FIELDS}
    for outcome in ("met", "released", "explained"):
        model.row(delta[outcome], 0)
    model.row(plus(delta["explained"], delta["not_met"]), 0)
