"""Disclosure control across every publication: the linear-programming audit of the reader
model (``procedures.disclosure_model``) and the complementary suppression it asks for.

When a quarter is closed or a yearly report is published, its figures are first protected on
their own (``procedures.disclosure.publish``); then ``protect`` audits every hidden figure of
every publication, old and new, against all of them together. A hidden figure is safe when
the published figures leave it at least two possible whole values, or, for a figure that
earlier publications had already narrowed to one, no fewer than it had. Where one is not
safe, the audit asks which figures of the new publication give it away (the cheapest change
of its published figures that lets the hidden one move) and hides those too, until every
hidden figure is safe. Earlier publications never change.

The audit is ``procedures.disclosure_lp``; the cheapest change is another LP over the same
rows, with a pair of columns per figure of the new publication that lets it move (at a price)
as far as its face would allow once hidden.
"""

from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np

from procedures.disclosure import HIDDEN, WITHHELD
from procedures.disclosure_lp import BIG, EPS, Audit, Finding, Lp, solved
from procedures.disclosure_model import Figure, Model, below

WEIGHTS = {"d": 1.0, "corr": 1.0, "c": 2.0, "m": 4.0, "y": 1.0, "reason": 1.0}
WITHHOLD = 25.0  # withholding a hidden figure costs this many times hiding a published one


def hide_as(figure: Figure) -> str:
    """How a figure of the new publication shows once it is hidden too."""
    if figure.key[0] == "corr":
        return WITHHELD
    return HIDDEN if figure.truth >= figure.threshold else below(figure.threshold)


class _Repair:
    """The cheapest set of the new publication's figures whose hiding lets a target move: a
    published figure may become hidden (``<k`` or ``x``), and, at a much higher price, a
    hidden one withheld (``-``: even its bounds are a hint when small figures add up)."""

    def __init__(self, model: Model):
        self.model = model
        self.free = [i for i, f in enumerate(model.figures)
                     if f.new and f.shown != WITHHELD]  # fmt: skip
        self.lp = Lp(model, fixed_new=False)
        h = self.lp.h
        self.columns: dict[int, tuple[int, int]] = {}
        base = self.lp.n
        for offset, index in enumerate(self.free):
            figure = model.figures[index]
            row = self.lp.figure_row[index]
            up, down = self._room(figure)
            weight = WEIGHTS.get(figure.key[0], 1.0) * (WITHHOLD if figure.hidden else 1)
            # the figure may leave what its face allows: expr - p + n within the face's bounds
            h.addCols(2, np.array([weight, weight]), np.array([0.0, 0.0]), np.array([up, down]),
                      2, np.array([0, 1], dtype=np.int32), np.array([row, row], dtype=np.int32),
                      np.array([-1.0, 1.0]))  # fmt: skip
            self.columns[index] = (base + 2 * offset, base + 2 * offset + 1)
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        h.setOptionValue("simplex_strategy", 1)  # the bounds change between solves: dual

    def _room(self, figure: Figure) -> tuple[float, float]:
        """How far the figure may move (up, down) once hidden, or withheld if hidden."""
        shown, k = hide_as(figure), figure.threshold
        if figure.hidden or shown == WITHHELD:
            return BIG, BIG
        if shown == HIDDEN:
            return BIG, figure.truth - k
        return k - 1, 0.0

    def hidden_now(self, index: int) -> None:
        """``index`` is hidden from now on: moving it costs nothing more."""
        for column in self.columns.get(index, ()):
            self.lp.h.changeColCost(column, 0.0)

    def together(self, targets: list[int]) -> list[int] | None:
        """The figures to hide so that every target moves at once, each by one towards the
        side its face allows; None when they cannot all move together."""
        for target in targets:
            figure = self.model.figures[target]
            low, high = figure.bounds()
            if figure.truth + 1 <= high:
                self.lp.set_bounds(target, figure.truth + 1, high)
            else:
                self.lp.set_bounds(target, low, figure.truth - 1)
        moved = self._solve()
        for target in targets:
            self.lp.set_bounds(target, *self.model.figures[target].bounds())
        return None if moved is None else moved[1]

    def _solve(self) -> tuple[float, list[int]] | None:
        self.lp.h.run()
        if not solved(self.lp.h):
            return None
        values = self.lp.h.getSolution().col_value
        moved = [i for i, (p, n) in self.columns.items() if values[p] > EPS or values[n] > EPS]
        return self.lp.h.getInfo().objective_function_value, moved

    def cheapest(self, target: int, required: float) -> list[int] | None:
        """The figures to hide so that ``target`` can move by ``required``; None: none can."""
        figure = self.model.figures[target]
        low, high = figure.bounds()
        best: tuple[float, list[int]] | None = None
        for low_, high_ in ((figure.truth + required, high), (low, figure.truth - required)):
            if low_ > high_:
                continue
            self.lp.set_bounds(target, low_, high_)
            found = self._solve()
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        self.lp.set_bounds(target, low, high)
        return None if best is None else best[1]


@dataclass
class Protection:
    """What ``protect`` decided: figures of the new publication to hide, and any hidden
    figure left narrower than two values because earlier publications had narrowed it."""

    hide: dict[tuple, str]
    accepted: list[Finding]
    solves: int


def protect(model: Model, prior: Callable[[], Model] | None = None, seed: int = 0) -> Protection:
    """Hide figures of the new publication until no hidden figure of any publication can be
    narrowed below two whole values (or below what ``prior``, the model without the new
    publication, already allowed)."""
    hide: dict[tuple, str] = {}
    accepted: list[Finding] = []
    solves = 0
    for _ in range(50):
        audit = Audit(model, seed)
        left = audit.ranges(audit.targets, {})
        solves += audit.solves
        if not left:
            return Protection(hide, accepted, solves)
        repair = _Repair(model)
        chosen: set[int] = set(repair.together(left) or ()) if len(left) > 1 else set()
        stuck = []
        for target in left if not chosen else ():
            moved = repair.cheapest(target, 1)
            if moved is None:
                stuck.append(target)
                continue
            for index in moved:
                chosen.add(index)
                repair.hidden_now(index)
        if not chosen:
            accepted += _accept(model, prior, stuck, audit)
            return Protection(hide, accepted, solves)
        for index in chosen:
            _hide(model, index, hide)
    raise RuntimeError("complementary suppression did not converge")


def _hide(model: Model, index: int, hide: dict[tuple, str]) -> None:
    figure = model.figures[index]
    if figure.key[0] == "corr":  # a correction row is withheld whole
        row = figure.key[:-1]
        for other in model.figures:
            if other.new and other.key[:-1] == row:
                other.shown = WITHHELD
                hide[other.key] = WITHHELD
        return
    figure.shown = WITHHELD if figure.hidden else hide_as(figure)
    hide[figure.key] = figure.shown


def _accept(
    model: Model, prior: Callable[[], Model] | None, stuck: list[int], audit: Audit
) -> list[Finding]:
    """Hidden figures no hiding in the new publication can widen: earlier publications must
    have narrowed them already (checked against ``prior`` when given)."""
    findings = [Finding(model.figures[i], *audit.range_of(i)) for i in stuck]
    if prior is None:
        return findings
    earlier = prior()
    before = Audit(earlier)
    keys = {(f.publication, f.key): i for i, f in enumerate(earlier.figures)}
    targets = [keys[(f.figure.publication, f.figure.key)] for f in findings
               if (f.figure.publication, f.figure.key) in keys]  # fmt: skip
    left = set(before.ranges(targets, {}))
    unexplained = [f for f, i in zip(findings, targets, strict=False) if i not in left]
    if unexplained:
        names = ", ".join(f"{f.figure.publication} {f.figure.key}" for f in unexplained[:5])
        raise RuntimeError(f"hidden figures narrowed by the new publication alone: {names}")
    return findings
