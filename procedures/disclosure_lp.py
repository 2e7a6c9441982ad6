"""The linear-programming audit of the reader model (``procedures.disclosure_model``): the
range of every hidden figure given every publication together.

The audit starts from the true values (a feasible point), pushes many figures up and down
together in a few LP solves (every point found widens the known range of every figure), and
solves one figure alone only when the joint pushes did not widen it enough. HiGHS
(``highspy``) re-solves each objective from the previous basis (primal simplex: only the
objective changes). The LP has a column per unknown that no published figure fixes on its
own and a row per figure and per piece of the reader's knowledge.
"""

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

import highspy
import numpy as np

from procedures.disclosure_model import Figure, Model

BIG = 1e6  # a box around every unknown, so that every objective has an optimum
EPS = 1e-6
MIN_GAIN = 0.05  # stop pushing many figures at once when a push widens fewer than this share


def solved(h: highspy.Highs) -> bool:
    return bool(h.getModelStatus() == highspy.HighsModelStatus.kOptimal)


class Lp:
    """The model as one HiGHS LP over the unknowns that no published figure fixes on its own:
    a row per figure and per piece of knowledge, constants moved into the row bounds."""

    def __init__(self, model: Model, fixed_new: bool = True):
        self.model = model
        lower, upper = list(model.lower), list(model.upper)
        for figure in model.figures:
            if len(figure.expr) == 1 and not figure.hidden and (fixed_new or not figure.new):
                ((v, c),) = figure.expr.items()
                lower[v] = upper[v] = figure.shown / c
        free = [v for v in range(len(lower)) if lower[v] != upper[v]]
        self.column = {v: i for i, v in enumerate(free)}
        self.fixed = {v: lower[v] for v in range(len(lower)) if lower[v] == upper[v]}
        self.figure_row: dict[int, int] = {}
        self.constant: dict[int, float] = {}
        rows: list[tuple[dict[int, float], float, float]] = []
        for expr, low, high in model.rows:
            self._add(rows, expr, low, high)
        for index, figure in enumerate(model.figures):
            low, high = figure.bounds()
            row, const = self._add(rows, figure.expr, low, high, keep=True)
            self.figure_row[index], self.constant[index] = row, const
        self._pass(rows, [lower[v] for v in free], [upper[v] for v in free])

    def _add(
        self, rows: list, expr: dict[int, float], low: float, high: float, keep: bool = False
    ) -> tuple[int, float]:
        const = sum(c * self.fixed[v] for v, c in expr.items() if v in self.fixed)
        mine = {self.column[v]: c for v, c in expr.items() if v in self.column}
        if not mine and not keep:
            return -1, const
        rows.append((mine, low - const, high - const))
        return len(rows) - 1, const

    def _pass(self, rows: list, lower: list[float], upper: list[float]) -> None:
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("simplex_strategy", 4)
        lp = highspy.HighsLp()
        n = self.n = len(lower)
        lp.num_col_, lp.num_row_ = n, len(rows)
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.array([max(v, -BIG) for v in lower], dtype=float)
        lp.col_upper_ = np.array([min(v, BIG) for v in upper], dtype=float)
        inf = highspy.kHighsInf
        lp.row_lower_ = np.array([max(lo, -inf) for _, lo, _ in rows], dtype=float)
        lp.row_upper_ = np.array([min(hi, inf) for _, _, hi in rows], dtype=float)
        starts, indices, values = [0], [], []
        for expr, _, _ in rows:
            indices += list(expr)
            values += list(expr.values())
            starts.append(len(indices))
        matrix = lp.a_matrix_
        matrix.format_ = highspy.MatrixFormat.kRowwise
        matrix.num_col_, matrix.num_row_ = n, len(rows)
        matrix.start_ = np.array(starts, dtype=np.int32)
        matrix.index_ = np.array(indices, dtype=np.int32)
        matrix.value_ = np.array(values, dtype=float)
        lp.sense_ = highspy.ObjSense.kMaximize
        self.h.passModel(lp)

    def set_bounds(self, figure: int, low: float, high: float) -> None:
        row, const, inf = self.figure_row[figure], self.constant[figure], highspy.kHighsInf
        self.h.changeRowBounds(row, max(low - const, -inf), min(high - const, inf))

    def maximise(self, objective: Mapping[int, float]) -> np.ndarray | None:
        """Maximise sum(weight * figure) over ``objective`` (figure -> weight); the value of
        every figure at the optimum (indexed by figure row), or None."""
        costs = np.zeros(self.n)
        for index, weight in objective.items():
            for v, c in self.model.figures[index].expr.items():
                if v in self.column:
                    costs[self.column[v]] += weight * c
        self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), costs)
        self.h.run()
        if not solved(self.h):
            return None
        return np.asarray(self.h.getSolution().row_value)

    def value(self, values: np.ndarray, figure: int) -> float:
        return float(values[self.figure_row[figure]]) + self.constant[figure]


@dataclass
class Finding:
    """A hidden figure that the publications together narrow to fewer than two values."""

    figure: Figure
    low: float
    high: float


class Audit:
    """The range of every hidden figure of ``model`` given all its publications."""

    def __init__(self, model: Model, seed: int = 0):
        self.model, self.lp = model, Lp(model)
        self.random = random.Random(seed)
        self.targets = [i for i, f in enumerate(model.figures) if f.hidden]
        self.rows = np.array([self.lp.figure_row[i] for i in self.targets], dtype=np.int64)
        self.constants = np.array([self.lp.constant[i] for i in self.targets])
        truth = np.array([float(model.figures[i].truth) for i in self.targets])
        self.low, self.high = truth.copy(), truth.copy()
        self.position = {index: n for n, index in enumerate(self.targets)}
        self.solves = 0

    def width(self, index: int) -> float:
        """Whole values between the lowest and highest value found, minus one."""
        n = self.position[index]
        return math.floor(self.high[n] + EPS) - math.ceil(self.low[n] - EPS)

    def range_of(self, index: int) -> tuple[float, float]:
        n = self.position[index]
        return float(self.low[n]), float(self.high[n])

    def _see(self, values: np.ndarray | None) -> None:
        self.solves += 1
        if values is not None:
            found = values[self.rows] + self.constants
            np.minimum(self.low, found, out=self.low)
            np.maximum(self.high, found, out=self.high)

    def ranges(self, targets: list[int], required: dict[int, float]) -> list[int]:
        """Widen the known ranges of ``targets``; the ones left narrower than required."""

        def short(index: int) -> bool:
            return self.width(index) < required.get(index, 1)

        pending = [i for i in targets if short(i)]
        for round_ in range(40):
            if len(pending) < 4:
                break
            signs = {i: self._direction(i, round_) for i in pending}
            self._see(self.lp.maximise(signs))
            left = [i for i in pending if short(i)]
            gain = (len(pending) - len(left)) / len(pending)
            pending = left
            if round_ >= 2 and gain < MIN_GAIN:
                break
        for index in list(pending):
            for sign in (1, -1):
                if short(index):
                    self._see(self.lp.maximise({index: sign}))
        return [i for i in pending if short(i)]

    def _direction(self, index: int, round_: int) -> int:
        """Up first, then down; then towards the side not yet explored."""
        if round_ < 2:
            return 1 - 2 * round_
        low, high = self.range_of(index)
        truth = self.model.figures[index].truth
        up, down = high - truth < 1 - EPS, truth - low < 1 - EPS
        if up != down:
            return 1 if up else -1
        return self.random.choice((1, -1))

    def findings(self, required: dict[int, float] | None = None) -> list[Finding]:
        left = self.ranges(self.targets, required or {})
        return [Finding(self.model.figures[i], *self.range_of(i)) for i in left]
