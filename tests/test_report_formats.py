"""The kwartaalrapportage in its four formats, written by the report flow, with its artifacts."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from procedures.report import TREND_QUARTERS

pytestmark = pytest.mark.prefect
DOMAIN_ROW_FIELDS = [
    "cluster",
    "directorate",
    "indicator",
    "met",
    "explained",
    "released",
    "not_met",
    "total",
]


@pytest.fixture
def quarter(engine: Engine, send: Any, prefect_harness: None) -> str:
    """2025Q1 in SOC-OJZ: seven texts approved, one deviation explained, one not explained."""
    opened = "2025-01-06T09:00:00+01:00"
    data = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
    for number in range(1, 10):
        send(f"VAC-{number}", "open", opened, data)
    for number in range(1, 8):
        send(f"VAC-{number}", "approve_text", "2025-02-03T10:00:00+01:00")
    send("VAC-8", "deviate_text", "2025-02-04T10:00:00+01:00", {"explanation": "Spoedvacature"})
    send("VAC-9", "deviate_text", "2025-03-04T10:00:00+01:00")
    return "2025Q1"


def _close(engine: Engine, quarter: str) -> None:
    """Only a closed quarter is published."""
    from models import session_scope
    from procedures.quarters import close_quarter

    with session_scope(engine) as session:
        close_quarter(session, quarter, "pia")


def test_the_json_rows_keep_exactly_the_fields_of_the_domain(quarter: str) -> None:
    from idflow.cli import app

    result = CliRunner().invoke(app, ["report", "--quarter", quarter, "--no-suppress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [row for row in report["rows"] if row["total"]] == [
        {"cluster": "SOC", "directorate": "SOC-OJZ", "indicator": "I2"}
        | {"met": 7, "explained": 1, "released": 0, "not_met": 1, "total": 9}
    ]
    assert len(report["rows"]) == 47 * 5  # every active directorate, empty or not
    assert all(list(row) == DOMAIN_ROW_FIELDS for row in report["rows"])
    assert report["municipality_totals"][0]["total"] == 9
    assert report["classification"] == "intern, niet publiceren"


def test_a_provisional_quarter_is_not_published_and_its_internal_csv_says_so(
    quarter: str,
) -> None:
    from idflow.cli import app

    refused = CliRunner().invoke(app, ["report", "--quarter", quarter, "--format", "csv"])
    # The refusal (Dutch, exit 1 through idflow's main) raises out of the bare Typer app.
    assert "voorlopig en wordt niet gepubliceerd" in str(refused.exception)
    internal = CliRunner().invoke(
        app, ["report", "--quarter", quarter, "--format", "csv", "--no-suppress"]
    )
    header, first, *_ = internal.stdout.splitlines()
    assert header == ",".join([*DOMAIN_ROW_FIELDS, "classification"])
    assert first.endswith(",intern, niet publiceren") or first.endswith(
        ',"intern, niet publiceren"'
    )


def test_the_published_csv_hides_the_small_counts(engine: Engine, quarter: str) -> None:
    from workflows.report import report_flow

    _close(engine, quarter)
    text = report_flow(quarter=quarter, fmt="csv", suppress=True)
    header, *rows = text.splitlines()
    assert header == ",".join(DOMAIN_ROW_FIELDS)
    [row] = [r for r in rows if r.startswith("SOC,SOC-OJZ,I2,")]
    assert "<5" in row


def test_the_internal_workbook_has_a_sheet_per_indicator_the_deviations_and_the_trend(
    quarter: str, tmp_path: Path
) -> None:
    from workflows.report import report_flow

    path = tmp_path / "q1.xlsx"
    report_flow(quarter=quarter, fmt="xlsx", suppress=False, output=str(path))
    workbook = load_workbook(path)
    assert workbook.sheetnames[1:6] == [
        "I2 I&D-vacaturetekst",
        "I3 BIWS-procedure",
        "I4 Rooney Rule",
        "I5 Onboarding",
        "I6 Exitgesprek",
    ]
    i2 = [[c.value for c in row] for row in workbook["I2 I&D-vacaturetekst"].iter_rows(min_row=3)]
    municipality = i2[0]
    assert municipality[0] == "Gemeente" and municipality[3:8] == [7, 1, 0, 1, 9]
    assert municipality[8] == pytest.approx(7 / 9, abs=0.001) and municipality[10] == "onder norm"
    deviations = [[c.value for c in row] for row in workbook["Afwijkingen"].iter_rows(min_row=2)]
    assert [(d[0], d[4], d[5]) for d in deviations] == [
        ("VAC-8", "toegelicht", "Spoedvacature"),
        ("VAC-9", "niet voldaan", "geen toelichting"),
    ]
    trend = workbook["Trend"]
    assert [c.value for c in trend[2]][2:] == [
        "2023Q2",
        "2023Q3",
        "2023Q4",
        "2024Q1",
        "2024Q2",
        "2024Q3",
        "2024Q4",
        "2025Q1",
    ]


def test_the_html_report_stands_alone_with_charts_and_prints(
    engine: Engine, quarter: str, tmp_path: Path
) -> None:
    from workflows.report import report_flow

    _close(engine, quarter)
    path = tmp_path / "q1.html"
    report_flow(quarter=quarter, fmt="html", suppress=True, output=str(path))
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") == 5 + 5  # % met per cluster and the trend, per indicator
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "@media print" in html and 'class="norm"' in html
    assert html.count("<circle") == 1  # only 2025Q1 has figures; the other quarters are empty
    assert "&lt;5" in html and "VAC-9" not in html  # published: no per-vacancy deviations
    assert f"laatste {TREND_QUARTERS} kwartalen" in html


def test_each_report_leaves_a_table_and_a_markdown_artifact_with_stable_keys(
    engine: Engine, quarter: str, tmp_path: Path
) -> None:
    from prefect.artifacts import Artifact

    from workflows.report import report_flow

    _close(engine, quarter)
    report_flow(quarter=quarter, fmt="json", suppress=False, output=str(tmp_path / "r.json"))
    summary = Artifact.get("kwartaalrapportage-2025q1")
    table = Artifact.get("kwartaalrapportage-2025q1-tabel")
    assert summary is not None and summary.type == "markdown"
    assert table is not None and table.type == "table"
    # A closed quarter's artifacts carry the published figures, even for an internal report.
    assert '"toegelicht": "<5"' in str(table.data)
    assert "Kwartaalrapportage 2025Q1" in str(summary.data)


def _to_exit_interview(send: Any, vacancy: str, reasons: list[str], biws: str) -> None:
    from support import CHECKLIST

    data = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
    send(vacancy, "open", "2025-01-06T09:00:00+01:00", data)
    send(vacancy, "approve_text", "2025-01-07T09:00:00+01:00")
    if biws == "met":
        send(vacancy, "complete_biws", "2025-01-08T09:00:00+01:00", {"checklist": CHECKLIST})
    else:
        send(vacancy, "deviate_biws", "2025-01-08T09:00:00+01:00", {"explanation": biws})
    send(vacancy, "submit_shortlist", "2025-01-09T09:00:00+01:00", {"invited": 4, "diverse": 2})
    hire = {"employee": f"P-{vacancy}", "start_date": "2025-02-01"}
    send(vacancy, "hire", "2025-01-10T09:00:00+01:00", hire)
    send(vacancy, "complete_onboarding", "2025-02-10T09:00:00+01:00")
    send(vacancy, "register_departure", "2025-03-01T09:00:00+01:00", {"leave_date": "2025-03-01"})
    interview = {"held": True, "reasons": reasons}
    send(vacancy, "record_exit_interview", "2025-03-10T09:00:00+01:00", interview)


def test_exit_interview_reasons_are_tallied_per_cluster_and_year_internally_only(
    engine: Engine, send: Any
) -> None:
    from sqlmodel import Session

    from procedures.report_builder import build_report
    from workflows.report_html import render_html
    from workflows.report_xlsx import xlsx_bytes

    for n in range(6):
        _to_exit_interview(send, f"X{n}", ["werkdruk"] + (["salaris"] if n < 2 else []), "met")
    _close(engine, "2025Q1")
    with Session(engine) as session:
        internal = build_report(session, "2025Q1", suppress=False)
        published = build_report(session, "2025Q1", suppress=True)
        earlier = build_report(session, "2024Q4", suppress=False)
    assert internal.exit_reasons == [
        {"cluster": "SOC", "reason": "salaris", "count": 2},
        {"cluster": "SOC", "reason": "werkdruk", "count": 6},
    ]
    assert published.exit_reasons == []  # published per year only, in the yearly report
    assert earlier.exit_reasons == []  # another year
    sheet = load_workbook(io.BytesIO(xlsx_bytes(internal)))["Exitredenen"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[2] == ["Cluster", "salaris", "werkdruk"]
    assert rows[3] == ["Sociaal", 2, 6]
    html = render_html(internal)
    assert "Redenen uit exitgesprekken 2025 t/m 2025Q1" in html
    assert '<td class="n">2</td><td class="n">6</td>' in html
    assert "alleen per jaar" in render_html(published)
    published_sheet = load_workbook(io.BytesIO(xlsx_bytes(published)))["Exitredenen"]
    assert "alleen per jaar" in str(published_sheet["A3"].value)


def test_text_that_looks_like_a_formula_stays_text_in_the_workbook(
    engine: Engine, send: Any
) -> None:
    from sqlmodel import Session

    from procedures.report_builder import build_report
    from workflows.report_xlsx import xlsx_bytes

    formula = '=HYPERLINK("http://evil.example","klik")'
    _to_exit_interview(send, "F1", [], formula)
    with Session(engine) as session:
        book = build_report(session, "2025Q1", suppress=False)
    sheet = load_workbook(io.BytesIO(xlsx_bytes(book)))["Afwijkingen"]
    [cell] = [c for row in sheet.iter_rows() for c in row if c.value == formula]
    assert cell.data_type == "s"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
