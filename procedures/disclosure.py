"""Statistical disclosure control for the published kwartaalrapportage.

Per indicator the report publishes a hierarchical table: directorate rows, cluster totals and the
municipality total, each with the outcome counts and their total. Its sum relations are exactly
flow conservation in a small network (one arc per published figure)::

    S --M.total--> MT --c.total--> C[c] --d.total--> D[d] --d.j--> CJ[c,j] --c.j--> MJ[j] --M.j--> S

Every active directorate is listed, with or without counts, so a listed row says nothing.
Primary suppression hides every count 0 < n < k (shown ``<k``). Complementary suppression
hides further figures: a zero also shows as ``<k`` (so a reader only knows a ``<k`` figure is
0..k-1), a larger count shows as ``x`` (never zero and never small, so >= k). It hides until
every hidden figure lies on a cycle of hidden figures along which it can move up or down by
one without leaving those bounds: then at least two tables agree with everything published,
so no hidden figure can be recovered. The check is exact (a
figure is recoverable from the published ones if and only if no such cycle exists). When tiny
counts pin each other down whatever else is hidden, the indicator is withheld (every figure
``-``, zeros included).

This protects one report on its own; ``procedures.disclosure_joint`` then protects it together
with everything published before it.
"""

import heapq
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

COUNT_FIELDS = ("met", "explained", "released", "not_met")
COLUMNS = (*COUNT_FIELDS, "total")
HIDDEN = "x"
WITHHELD = "-"
MUNICIPALITY = "*"

Cell = tuple[str, str, str, str]  # (level d/c/m, code, indicator, column)
Node = tuple[str, ...]


@dataclass
class _Network:
    """The published figures of one indicator as arcs; ``hidden`` maps cell -> kind."""

    k: int
    arcs: dict[Cell, tuple[Node, Node, int]] = field(default_factory=dict)
    hidden: dict[Cell, str] = field(default_factory=dict)

    def bounds(self, cell: Cell) -> tuple[float, float]:
        """What a reader knows of a hidden figure."""
        if self.hidden[cell] == "primary":
            return 0, self.k - 1
        return self.k, float("inf")  # complementary figures shown as x are never small

    def steps(self, extra: bool) -> dict[Node, list[tuple[Node, Cell, int]]]:
        """Residual moves: (next node, cell, cost); ``extra`` also offers publishable cells."""
        out: dict[Node, list[tuple[Node, Cell, int]]] = defaultdict(list)
        for cell, (u, v, value) in self.arcs.items():
            if cell in self.hidden:
                low, high = self.bounds(cell)
                cost = 0
            elif extra and value >= self.k:
                low, high, cost = self.k, float("inf"), 1
            elif extra and value == 0:
                low, high, cost = 0, self.k - 1, 1
            else:
                continue
            if value < high:
                out[u].append((v, cell, cost))
            if value > low:
                out[v].append((u, cell, cost))
        return out

    def cycle(self, cell: Cell, extra: bool) -> list[Cell] | None:
        """The cheapest cycle through ``cell`` (as the other cells on it), or None."""
        u, v, value = self.arcs[cell]
        low, high = self.bounds(cell)
        steps = self.steps(extra)
        paths = []
        if value < high:
            paths.append(_cheapest_path(steps, v, u, cell, self.arcs))
        if value > low:
            paths.append(_cheapest_path(steps, u, v, cell, self.arcs))
        found = [p for p in paths if p is not None]
        return min(found, key=lambda p: p[0])[1] if found else None


def _cheapest_path(
    steps: dict[Node, list[tuple[Node, Cell, int]]],
    start: Node,
    goal: Node,
    skip: Cell,
    arcs: dict[Cell, tuple[Node, Node, int]],
) -> tuple[tuple[int, int], list[Cell]] | None:
    # Dijkstra on (newly hidden cells, their sum): hide as few and as small figures as possible.
    queue: list[tuple[tuple[int, int], Node, list[Cell]]] = [((0, 0), start, [])]
    done: set[Node] = set()
    while queue:
        cost, node, path = heapq.heappop(queue)
        if node == goal:
            return cost, path
        if node in done:
            continue
        done.add(node)
        for nxt, cell, extra in steps.get(node, []):
            if cell != skip and nxt not in done:
                new = (cost[0] + extra, cost[1] + extra * arcs[cell][2])
                heapq.heappush(queue, (new, nxt, [*path, cell]))
    return None


def _network(report: dict[str, Any], indicator: str, k: int) -> _Network:
    net = _Network(k)
    for row in report["rows"]:
        if row["indicator"] == indicator:
            c, d = row["cluster"], row["directorate"]
            _add(net, ("d", d, indicator), row, ("C", c), ("D", d), lambda j, c=c: ("CJ", c, j))
    for row in report["cluster_totals"]:
        if row["indicator"] == indicator:
            c = row["cluster"]
            _add(net, ("c", c, indicator), row, ("MT",), ("C", c), lambda j: ("MJ", j), ("CJ", c))
    for row in report["municipality_totals"]:
        if row["indicator"] == indicator:
            _add(
                net, ("m", MUNICIPALITY, indicator), row, ("S",), ("MT",), lambda j: ("S",), ("MJ",)
            )
    return net


def _add(
    net: _Network,
    key: tuple[str, str, str],
    row: dict[str, Any],
    parent: Node,
    own: Node,
    target: Any,
    source: Node | None = None,
) -> None:
    net.arcs[(*key, "total")] = (parent, own, row["total"])
    for j in COUNT_FIELDS:
        # Directorate counts leave the directorate node; totals leave their (level, column) node.
        start = own if source is None else (*source, j)
        net.arcs[(*key, j)] = (start, target(j), row[j])


def hidden_cells(report: dict[str, Any], k: int, keep: Collection[Cell] = ()) -> dict[Cell, str]:
    """Every figure to hide (cell -> ``primary`` or ``complementary``); ``keep``: figures
    hidden before that stay hidden."""
    indicators = sorted({row["indicator"] for row in report["municipality_totals"]})
    hidden: dict[Cell, str] = {}
    for indicator in indicators:
        hidden |= _protect(_network(report, indicator, k), set(keep))
    return hidden


def _protect(net: _Network, keep: set[Cell]) -> dict[Cell, str]:
    for cell, (_, _, value) in net.arcs.items():
        if 0 < value < net.k or (cell in keep and value < net.k):
            net.hidden[cell] = "primary"
        elif cell in keep:
            net.hidden[cell] = "complementary"
    for cell in sorted(net.hidden, key=lambda c: net.arcs[c][2]):
        if net.cycle(cell, extra=False) is not None:
            continue
        extra = net.cycle(cell, extra=True)
        if extra is None:
            # Only tiny counts that pin each other down (e.g. four directorates with one
            # deviation each and a municipal total <5): no figure of this indicator is shown.
            return dict.fromkeys(net.arcs, "withheld")
        for other in extra:
            net.hidden.setdefault(other, "complementary" if net.arcs[other][2] else "primary")
    return net.hidden


def publish(report: dict[str, Any], k: int, keep: Collection[Cell] = ()) -> dict[str, Any]:
    """The publication version of a report on its own: the one suppression step every
    report takes before the joint one.

    The figures (rows and totals) are protected as above; the corrections are protected row
    by row (``suppress_corrections``).
    """
    published = suppress_report(report, k, keep)
    if "corrections" in report:
        published["corrections"] = suppress_corrections(report["corrections"], k)
    return published


def suppress_corrections(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """Corrections fit for publication: a row with a difference 0 < |n| < k shows every figure
    as ``-``.

    A correction is a difference (restated minus published) and may be negative, so the
    bounds that protect a hidden count in the figures (0..k-1, or k and more) do not protect
    a hidden difference: within a row whose figures add up to its total, a hidden difference
    can be pinned down by the others. Withholding the whole row leaves nothing to recover;
    the reader still learns that the quarter was corrected there.
    """
    return [
        row | dict.fromkeys(COLUMNS, WITHHELD)
        if any(0 < abs(row[column]) < k for column in COLUMNS)
        else dict(row)
        for row in rows
    ]


def suppress_report(report: dict[str, Any], k: int, keep: Collection[Cell] = ()) -> dict[str, Any]:
    """A copy of ``report`` fit for publication: hidden figures become ``<k`` or ``x``."""
    hidden = hidden_cells(report, k, keep)

    def show(level: str, code: str, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for column in COLUMNS:
            kind = hidden.get((level, code, row["indicator"], column))
            if kind:
                out[column] = {"primary": f"<{k}", "complementary": HIDDEN}.get(kind, WITHHELD)
        return out

    return report | {
        "suppressed": True,
        "threshold": k,
        "rows": [show("d", r["directorate"], r) for r in report["rows"]],
        "cluster_totals": [show("c", r["cluster"], r) for r in report["cluster_totals"]],
        "municipality_totals": [show("m", MUNICIPALITY, r) for r in report["municipality_totals"]],
    }


def hidden_keys(report: dict[str, Any]) -> set[Cell]:
    """The figures a published report hides, as cells (to keep them hidden next time)."""
    keys: set[Cell] = set()
    for level, rows, code in (
        ("d", report["rows"], "directorate"),
        ("c", report["cluster_totals"], "cluster"),
        ("m", report["municipality_totals"], None),
    ):
        for row in rows:
            place = row[code] if code else MUNICIPALITY
            keys |= {(level, place, row["indicator"], column) for column in COLUMNS
                     if not isinstance(row[column], int)}  # fmt: skip
    return keys
