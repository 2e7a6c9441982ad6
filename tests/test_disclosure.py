"""Disclosure control: an attacker who reads every published figure recovers no hidden one.

Within one report, the attack knows the method: ``<5`` is 0..4 (every directorate is listed,
empty or not), ``x`` is a complementary figure (never small, so >= 5), ``-`` is withheld; every
row adds up to its total, every directorate column to its cluster total and every cluster
column to the municipality total. For each hidden figure it computes the smallest and the
largest value consistent with all that (linear programming over a totally unimodular system,
so the optimum is an integer) and fails when they are equal.

Across reports (the joint attack, ``disclosure_attack.Attack``), it keeps every publication:
each closed quarter in every version with its corrections, and each yearly report; and it
knows how vacancies behave (counts only grow, ``explain`` moves not_met to explained, the
steps come in order, exit reasons belong to held interviews). Each leak the issue found has
a small organisation here where it is certain.
"""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from disclosure_attack import Attack, Quarterly, Yearly, publish_year_if_known, published_outputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from sqlalchemy import Engine
from sqlmodel import Session, select
from support import CHECKLIST

from models import Directorate, session_scope
from procedures.disclosure import COLUMNS, COUNT_FIELDS, suppress_report
from procedures.errors import RuleViolation
from procedures.organisation import load_organisation, parse_org_csv
from procedures.quarters import close_quarter, reopen_quarter
from procedures.report_builder import build_report

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
        return 0, k - 1
    if shown == "x":
        return k, None
    assert shown == "-", f"unexpected published figure {shown!r}"
    return 0, None


def recovered(report: dict[str, Any]) -> list[Key]:
    return [key for key, (low, high) in attack(report).items() if high - low < 0.5]


def build(grid: dict[str, dict[str, dict[str, tuple[int, int, int, int]]]]) -> dict[str, Any]:
    """A report from cluster -> directorate -> indicator -> (met, explained, released, not_met)."""
    rows, clusters, municipality = [], [], {}
    for cluster, directorates in grid.items():
        cluster_sum: dict[str, list[int]] = {}
        listed = sorted({i for indicators in directorates.values() for i in indicators})
        for directorate, indicators in directorates.items():
            for indicator in listed:  # every directorate is listed, empty or not
                counts = indicators.get(indicator, (0, 0, 0, 0))
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


def test_tiny_counts_that_pinned_each_other_hide_behind_listed_zeros() -> None:
    """Four directorates with one deviation each and a municipal total <5: when only rows with
    counts were listed, nothing could hide them and the indicator was withheld; now that every
    directorate is listed, zeros shown as <5 protect them and the rest is published."""
    one = {"I5": (0, 0, 0, 1)}
    grid = {"SOC": {"SOC-A": one, "SOC-B": one}, "RE": {"RE-A": one, "RE-B": one}}
    published = suppress_report(build(grid), K)
    assert {row["not_met"] for row in published["rows"]} == {"<5"}
    assert "-" not in {row[c] for row in published["rows"] for c in COLUMNS}
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


# -- the joint attack: every publication together ------------------------------------------


def _organisation(engine: Engine, clusters: dict[str, list[str]]) -> None:
    """A small organisation: only these directorates are active."""
    lines = ["cluster_code,cluster_name,directorate_code,directorate_name"]
    lines += [f"{c},Cluster {c},{d},Directie {d}" for c, ds in clusters.items() for d in ds]
    with Session(engine) as session:
        load_organisation(session, parse_org_csv("\n".join(lines) + "\n"))
        session.commit()


def _open(send: Any, vacancy: str, directorate: str, at: str = "2025-01-06T09:00:00+01:00") -> None:
    send(vacancy, "open", at, {"directorate": directorate, "scale": 12, "title": "Teamleider",
                               "kind": "external"})  # fmt: skip


def _close(engine: Engine, quarter: str, day: str) -> None:
    with session_scope(engine) as session:
        close_quarter(session, quarter, "pia", now=datetime.fromisoformat(day))


def _attack(engine: Engine) -> Attack:
    with Session(engine) as session:
        return Attack(published_outputs(session)).build()


def test_step_order_pins_no_hidden_figure(engine: Engine, send: Any) -> None:
    """Leak 2: per directorate no step is finished more often than the step before it. Read
    with that, the figures suppressed on their own pinned C-A's hidden I2 and I3 counts: its
    I3 is at most its I2, and the cluster totals leave no room for either to move."""
    grid = {"C-A": (5, 4), "C-B": (4, 4), "C-E": (6, 6), "R-A": (8, 7), "R-B": (0, 0)}
    _organisation(engine, {"C": ["C-A", "C-B", "C-E"], "R": ["R-A", "R-B"]})
    for directorate, (texts, biws) in grid.items():
        for n in range(texts):
            vacancy = f"V-{directorate}-{n}"
            _open(send, vacancy, directorate)
            send(vacancy, "approve_text", "2025-02-03T09:00:00+01:00")
            if n < biws:
                send(
                    vacancy, "complete_biws", "2025-03-03T09:00:00+01:00", {"checklist": CHECKLIST}
                )
    _close(engine, "2025Q1", "2025-04-15T07:00:00+02:00")
    attack = _attack(engine)
    assert attack.hidden  # there are hidden figures to recover
    assert attack.pinned() == []


def test_publishing_a_quarter_again_pins_no_hidden_figure(engine: Engine, send: Any) -> None:
    """Leak 3: a quarter closed, changed by late steps and late explanations, reopened and
    closed again. Counts only grow and ``explain`` only moves not_met to explained, so two
    suppression patterns chosen apart pinned the first version's hidden counts."""
    first = {
        "C-A": (8, 0, 2),
        "C-B": (8, 0, 2),
        "C-E": (8, 0, 3),
        "R-A": (1, 2, 2),
        "R-B": (6, 0, 1),
    }
    _organisation(engine, {"C": ["C-A", "C-B", "C-E"], "R": ["R-A", "R-B"]})
    for directorate, (met, explained, not_met) in first.items():
        for n, outcome in enumerate(["met"] * met + ["explained"] * explained + ["not"] * not_met):
            vacancy = f"V-{directorate}-{n}"
            _open(send, vacancy, directorate)
            if outcome == "met":
                send(vacancy, "approve_text", "2025-02-03T09:00:00+01:00")
            else:
                reason = {"explanation": "Spoed"} if outcome == "explained" else {}
                send(vacancy, "deviate_text", "2025-02-03T09:00:00+01:00", reason)
    _close(engine, "2025Q1", "2025-04-15T07:00:00+02:00")
    explain = {"step": "text", "explanation": "Achteraf toegelicht"}
    for vacancy in ("V-C-A-8", "V-C-A-9", "V-C-B-8", "V-R-A-3", "V-R-A-4"):  # not_met -> explained
        send(vacancy, "explain", "2025-05-02T09:00:00+02:00", explain)
    for vacancy, directorate in (("L-1", "R-A"),):
        _open(send, vacancy, directorate, "2025-03-20T09:00:00+01:00")  # entered late
        send(vacancy, "approve_text", "2025-03-25T09:00:00+01:00")
    with session_scope(engine) as session:
        reopen_quarter(session, "2025Q1", "admin", "Late import",
                       now=datetime.fromisoformat("2025-05-10T09:00:00+02:00"))  # fmt: skip
    _close(engine, "2025Q1", "2025-05-15T07:00:00+02:00")
    attack = _attack(engine)
    assert {p.version for p in attack.publications if isinstance(p, Quarterly)} == {1, 2}
    assert attack.pinned() == []


def test_no_exit_reason_points_to_one_directorate(engine: Engine, send: Any) -> None:
    """Leak 1: the only exit interview of the Stadsdelen cluster in 2025 was held in Zuidoost
    in the third quarter. Published with each quarter, year to date, its reason
    ("gezondheid") appeared in 2025Q3 while only Zuidoost listed I6 rows: one leaver's health.
    Published per year, and only where enough interviews were held, it is not published."""
    _organisation(engine, {"SD": ["SD-ZO", "SD-NO"], "RE": ["RE-A"]})
    _open(send, "V-ZO", "SD-ZO")
    for event, at, data in (
        ("approve_text", "2025-01-13T09:00:00+01:00", {}),
        ("complete_biws", "2025-01-27T09:00:00+01:00", {"checklist": CHECKLIST}),
        ("submit_shortlist", "2025-02-10T09:00:00+01:00", {"invited": 4, "diverse": 2}),
        ("hire", "2025-02-24T09:00:00+01:00", {"employee": "P123456", "start_date": "2025-03-03"}),
        ("complete_onboarding", "2025-04-14T09:00:00+02:00", {}),
        ("register_departure", "2025-07-07T09:00:00+02:00", {"leave_date": "2025-07-04"}),
        ("record_exit_interview", "2025-07-14T09:00:00+02:00",
         {"held": True, "reasons": ["gezondheid"]}),
    ):  # fmt: skip
        send("V-ZO", event, at, data)
    for n in range(6):
        _open(send, f"V-NO-{n}", "SD-NO")
        send(f"V-NO-{n}", "approve_text", "2025-02-03T09:00:00+01:00")
    for quarter, day in (("2025Q1", "2025-04-15"), ("2025Q2", "2025-07-15"),
                         ("2025Q3", "2025-10-15"), ("2025Q4", "2026-01-15")):  # fmt: skip
        _close(engine, quarter, f"{day}T07:00:00+02:00")
    with session_scope(engine) as session:
        publish_year_if_known(session, 2025, datetime.fromisoformat("2026-01-15T08:00:00+01:00"))
    assert _attack(engine).attributed() == []


# -- two years of closed quarters, corrections and yearly reports ---------------------------

TWO_YEARS = datetime(2026, 2, 1, tzinfo=UTC)


def _replayed(url: str, clusters: dict[str, list[str]] | None, per_year: float) -> Engine:
    """Two years (2024, 2025) replayed as they happened: late entries, closes when due, a
    yearly report after each fourth quarter."""
    from models.database import get_engine
    from procedures.setup import initialise
    from procedures.store import current_policy_version, load_policy
    from workflows.replay import replay
    from workflows.simulate import Simulator

    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
    if clusters:
        _organisation(engine, clusters)
    with Session(engine) as session:
        policy = load_policy(session, current_policy_version(session))
        active = [d for ds in (clusters or {}).values() for d in ds] or list(
            session.exec(select(Directorate.code).where(Directorate.active))
        )
    events = Simulator(policy, active, seed=11).events(date(2024, 1, 1), TWO_YEARS, per_year)
    done = replay(engine, events, policy, TWO_YEARS)
    assert done.years == [2024, 2025] and len(done.closed) == 8 and not done.summary.refused
    return engine


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A small organisation with many vacancies, so that yearly exit reasons are published."""
    url = f"sqlite:///{tmp_path_factory.mktemp('two-years') / 'idflow.db'}"
    return _replayed(url, {"SOC": ["SOC-A", "SOC-B", "SOC-C"], "RE": ["RE-A", "RE-B"]}, 60)


def test_two_years_of_publications_together_pin_nothing_and_tie_no_reason_to_one_directorate(
    two_years: Engine,
) -> None:
    attack = _attack(two_years)
    corrections = [row for p in attack.publications if isinstance(p, Quarterly)
                   for row in p.report["corrections"]]  # fmt: skip
    assert corrections  # late entries and late explanations were published as corrections
    yearly = [p for p in attack.publications if isinstance(p, Yearly)]
    published = [row for p in yearly for row in p.report["sections"]["exit_reasons"]["clusters"]
                 if row["published"]]  # fmt: skip
    assert published and attack.reasons  # exit reasons were published, and attacked
    assert attack.pinned() == []
    assert attack.attributed() == []


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The demo's organisation and rate (47 directorates, 8 vacancies each a year), two years."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'idflow.db'}"
    return _replayed(url, None, 8)


def test_every_publication_of_two_demo_years_together_pins_no_hidden_figure(
    demo_engine: Engine,
) -> None:
    attack = _attack(demo_engine)
    assert len(attack.hidden) > 2000  # the demo data really has small figures to protect
    assert attack.pinned() == []
    assert attack.attributed() == []


@pytest.mark.parametrize("quarter", ["2024Q4", "2025Q1"])
def test_no_hidden_figure_of_a_demo_quarter_can_be_recovered_on_its_own(
    demo_engine: Engine, quarter: str
) -> None:
    with Session(demo_engine) as session:
        published = build_report(session, quarter, suppress=True).report
    assert published["threshold"] == K and published["status"] == "vastgesteld"
    assert len(attack(published)) > 20
    assert recovered(published) == []


def test_a_provisional_quarter_has_no_publication(demo_engine: Engine) -> None:
    with Session(demo_engine) as session, pytest.raises(RuleViolation, match="voorlopig"):
        build_report(session, "2026Q1", suppress=True)
