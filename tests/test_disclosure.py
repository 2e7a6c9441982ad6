"""Disclosure control: an attacker who reads every published figure recovers no hidden one.

The attack knows the method: ``<5`` is 0..4 (1..4 for a total: only non-empty rows are
listed), ``x`` is a complementary figure (never small, so >= 5), ``-`` is withheld; every row
adds up to its total, every directorate column to its cluster total and every cluster column to
the municipality total. For each hidden figure it
computes the smallest and the largest value consistent with all that (linear programming over
a totally unimodular system, so the optimum is an integer) and fails when they are equal.
"""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from sqlalchemy import Engine
from sqlmodel import Session
from support import simulated_database

from procedures.disclosure import COLUMNS, COUNT_FIELDS, suppress_report
from procedures.report_builder import build_report
from procedures.tallies import roll_up

K = 5
Key = tuple[str, str, str, str]


def published_cells(report: dict[str, Any]) -> dict[Key, Any]:
    """Every published figure of a report by (level, code, indicator, column)."""
    cells: dict[Key, Any] = {}
    for row in report["rows"]:
        for column in COLUMNS:
            cells[("d", row["directorate"], row["indicator"], column)] = row[column]
    for row in report["cluster_totals"]:
        for column in COLUMNS:
            cells[("c", row["cluster"], row["indicator"], column)] = row[column]
    for row in report["municipality_totals"]:
        for column in COLUMNS:
            cells[("m", "*", row["indicator"], column)] = row[column]
    return cells


def relations(report: dict[str, Any]) -> list[tuple[Key, list[Key]]]:
    """(sum cell, its parts): row totals and the column sums up the hierarchy."""
    out: list[tuple[Key, list[Key]]] = []
    for level, rows, code in (
        ("d", report["rows"], "directorate"),
        ("c", report["cluster_totals"], "cluster"),
        ("m", report["municipality_totals"], None),
    ):
        for row in rows:
            key = row[code] if code else "*"
            out.append(
                (
                    (level, key, row["indicator"], "total"),
                    [(level, key, row["indicator"], j) for j in COUNT_FIELDS],
                )
            )
    for total in report["cluster_totals"]:
        parts = [
            r["directorate"]
            for r in report["rows"]
            if r["cluster"] == total["cluster"] and r["indicator"] == total["indicator"]
        ]
        for j in COLUMNS:
            out.append(
                (
                    ("c", total["cluster"], total["indicator"], j),
                    [("d", d, total["indicator"], j) for d in parts],
                )
            )
    for total in report["municipality_totals"]:
        parts = [
            r["cluster"] for r in report["cluster_totals"] if r["indicator"] == total["indicator"]
        ]
        for j in COLUMNS:
            out.append(
                (
                    ("m", "*", total["indicator"], j),
                    [("c", c, total["indicator"], j) for c in parts],
                )
            )
    return out


def attack(report: dict[str, Any], k: int = K) -> dict[Key, tuple[float, float]]:
    """The range of every hidden figure consistent with all published ones."""
    cells = published_cells(report)
    ranges: dict[Key, tuple[float, float]] = {}
    for indicator in {key[2] for key in cells}:  # indicators share no figure: one LP each
        hidden = sorted(
            k_ for k_, v in cells.items() if k_[2] == indicator and not isinstance(v, int)
        )
        ranges |= _ranges(report, cells, hidden, indicator, k)
    return ranges


def _ranges(
    report: dict[str, Any], cells: dict[Key, Any], hidden: list[Key], indicator: str, k: int
) -> dict[Key, tuple[float, float]]:
    index = {key: i for i, key in enumerate(hidden)}
    bounds = [_bounds(cells[key], key[3], k) for key in hidden]
    a_eq, b_eq = [], []
    for total, parts in relations(report):
        if total[2] != indicator:
            continue
        row = [0.0] * len(hidden)
        rhs = 0.0
        for key, sign in [(total, -1.0)] + [(p, 1.0) for p in parts]:
            if key in index:
                row[index[key]] += sign
            else:
                rhs -= sign * cells[key]
        if any(row):
            a_eq.append(row)
            b_eq.append(rhs)
        else:
            assert rhs == 0, f"published figures do not add up at {total}"
    ranges = {}
    for key, i in index.items():
        c = [0.0] * len(hidden)
        c[i] = 1.0
        low = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
        c[i] = -1.0
        high = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
        assert low.status == 0, f"published figures are inconsistent: {low.message}"
        ranges[key] = (low.fun, float("inf") if high.status == 3 else -high.fun)
    return ranges


def _bounds(shown: str, column: str, k: int) -> tuple[int, int | None]:
    if shown == f"<{k}":
        return (1 if column == "total" else 0), k - 1
    if shown == "x":
        return k, None
    assert shown == "-", f"unexpected published figure {shown!r}"
    return (1 if column == "total" else 0), None


def recovered(report: dict[str, Any]) -> list[Key]:
    return [key for key, (low, high) in attack(report).items() if high - low < 0.5]


def build(grid: dict[str, dict[str, dict[str, tuple[int, int, int, int]]]]) -> dict[str, Any]:
    """A report from cluster -> directorate -> indicator -> (met, explained, released, not_met)."""
    rows, clusters, municipality = [], [], {}
    for cluster, directorates in grid.items():
        cluster_sum: dict[str, list[int]] = {}
        for directorate, indicators in directorates.items():
            for indicator, counts in indicators.items():
                if sum(counts):
                    rows.append(
                        {"cluster": cluster, "directorate": directorate, "indicator": indicator}
                        | dict(zip(COUNT_FIELDS, counts, strict=True))
                        | {"total": sum(counts)}
                    )
                    acc = cluster_sum.setdefault(indicator, [0, 0, 0, 0])
                    for i, n in enumerate(counts):
                        acc[i] += n
        for indicator, counts in sorted(cluster_sum.items()):
            clusters.append(
                {"cluster": cluster, "indicator": indicator}
                | dict(zip(COUNT_FIELDS, counts, strict=True))
                | {"total": sum(counts)}
            )
            acc = municipality.setdefault(indicator, [0, 0, 0, 0])
            for i, n in enumerate(counts):
                acc[i] += n
    return {
        "quarter": "2025Q1",
        "suppressed": False,
        "rows": rows,
        "cluster_totals": clusters,
        "municipality_totals": [
            {"indicator": i} | dict(zip(COUNT_FIELDS, c, strict=True)) | {"total": sum(c)}
            for i, c in sorted(municipality.items())
        ],
    }


def test_the_attack_recovers_figures_that_only_primary_suppression_hides() -> None:
    """The attack is real: hiding just the small counts leaks them through the totals."""
    report = build({"SOC": {"SOC-A": {"I2": (7, 2, 0, 0)}, "SOC-B": {"I2": (9, 0, 0, 0)}}})
    naive = report | {
        "rows": [
            r | {"explained": "<5"} if r["directorate"] == "SOC-A" else r for r in report["rows"]
        ]
    }
    assert recovered(naive) == [("d", "SOC-A", "I2", "explained")]


def test_a_lone_small_count_in_a_cluster_is_protected_up_to_the_municipality() -> None:
    report = build(
        {
            "SOC": {"SOC-A": {"I2": (3, 0, 0, 0)}},
            "RE": {"RE-A": {"I2": (8, 1, 0, 0)}, "RE-B": {"I2": (12, 0, 0, 6)}},
        }
    )
    published = suppress_report(report, K)
    assert published["rows"][0]["met"] == "<5"
    assert recovered(published) == []


def test_a_single_small_directorate_is_the_whole_municipality_and_stays_hidden() -> None:
    published = suppress_report(build({"SOC": {"SOC-A": {"I6": (2, 1, 0, 1)}}}), K)
    assert published["municipality_totals"][0]["total"] == "<5"
    assert recovered(published) == []


def test_an_indicator_whose_tiny_counts_pin_each_other_down_is_withheld() -> None:
    """Four directorates with one deviation each and a municipal total <5 leave nothing to hide
    behind, so no figure of that indicator is published."""
    one = {"I5": (0, 0, 0, 1)}
    grid = {"SOC": {"SOC-A": one, "SOC-B": one}, "RE": {"RE-A": one, "RE-B": one}}
    published = suppress_report(build(grid), K)
    assert {row["not_met"] for row in published["rows"]} == {"-"}
    assert {row["released"] for row in published["rows"]} == {"-"}
    assert recovered(published) == []


def test_figures_without_small_counts_are_all_published() -> None:
    report = build({"SOC": {"SOC-A": {"I2": (7, 5, 0, 0)}, "SOC-B": {"I2": (9, 0, 0, 6)}}})
    assert suppress_report(report, K)["rows"] == report["rows"]


def test_small_counts_in_one_cluster_protect_each_other() -> None:
    """A cluster total <5 over four directorates: each count may still be 0..4, so the
    published figures fit more than one table."""
    one = {"I2": (1, 0, 0, 0)}
    grid = {"BV": {"BV-A": one, "BV-B": one, "BV-C": one, "BV-D": {"I2": (1, 0, 1, 0)}}}
    published = suppress_report(build(grid), K)
    assert published["cluster_totals"][0]["met"] == "<5"
    assert recovered(published) == []


counts = st.tuples(*[st.integers(0, 7)] * 4)
grids = st.dictionaries(
    st.sampled_from(["SOC", "RE", "DII"]),
    st.dictionaries(
        st.sampled_from(["A", "B", "C"]),
        st.dictionaries(st.sampled_from(["I2", "I5"]), counts, min_size=1),
        min_size=1,
    ),
    min_size=1,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grids)
def test_no_hidden_figure_of_an_adversarial_small_grid_can_be_recovered(grid: Any) -> None:
    named = {c: {f"{c}-{d}": ind for d, ind in ds.items()} for c, ds in grid.items()}
    assert recovered(suppress_report(build(named), K)) == []


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """Three simulated quarters for every directorate, rolled up (built once: ~10 s)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'idflow.db'}"
    engine = simulated_database(
        url, 7, date(2024, 7, 1), datetime(2025, 4, 1, tzinfo=UTC), per_year=8
    )
    with Session(engine) as session:
        roll_up(session)
        session.commit()
    return engine


@pytest.mark.parametrize("quarter", ["2024Q4", "2025Q1"])
def test_no_hidden_figure_of_a_demo_quarter_can_be_recovered(
    demo_engine: Engine, quarter: str
) -> None:
    with Session(demo_engine) as session:
        published = build_report(session, quarter, suppress=True).report
    assert published["threshold"] == K
    assert len(attack(published)) > 20  # the demo data really has small figures to protect
    assert recovered(published) == []
