"""The report flow: roll up, build the kwartaalrapportage (``procedures.report_builder``) or
the yearly report (``procedures.report_year``), write it; artifacts for a published quarter."""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models import get_engine, get_settings, session_scope
from procedures.calendar import last_finished_quarter
from procedures.report import INDICATORS
from procedures.report_book import ReportBook
from procedures.report_builder import REPORT_FORMATS, build_report, check_format, report_quarter
from procedures.report_year import YearBook, build_year_report, check_year_format
from procedures.snapshots import current_snapshots
from workflows.rollup import roll_up_task

FORMATS = REPORT_FORMATS
TEXT_FORMATS = ("json", "csv")
CSV_COLUMNS = [
    "cluster",
    "directorate",
    "indicator",
    "met",
    "explained",
    "released",
    "not_met",
    "total",
]


@task(name="build-report")
def build_report_task(
    quarter: str, suppress: bool, restated: bool = False, version: int | None = None
) -> ReportBook:
    """The kwartaalrapportage of ``quarter`` from the one builder (suppressed by default)."""
    with session_scope(get_engine()) as session:
        return build_report(session, quarter, suppress, restated, version)


def render(book: ReportBook, fmt: str) -> str | bytes:
    """``book`` in any of the formats: JSON/CSV/HTML text or XLSX bytes."""
    if fmt == "xlsx":
        from workflows.report_xlsx import xlsx_bytes

        return xlsx_bytes(book)
    if fmt == "html":
        from workflows.report_html import render_html

        return render_html(book)
    return render_text(book.report, fmt)


def render_text(report: dict[str, Any], fmt: str) -> str:
    """The report as JSON or CSV text (the same rows; internal ones say so in every row)."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    out = io.StringIO()
    label = report.get("classification")
    columns = CSV_COLUMNS + (["classification"] if label else [])
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(row | ({"classification": label} if label else {}) for row in report["rows"])
    return out.getvalue()


def render_year(book: YearBook, fmt: str) -> str:
    """The yearly report in ``fmt`` (JSON now; the other formats are to come)."""
    check_year_format(fmt)
    return json.dumps(book.report, ensure_ascii=False, indent=2) + "\n"


def default_output(quarter: str, fmt: str, internal: bool = False) -> Path:
    """Where a binary or HTML report goes when no path is given: ``reports/2025Q1.xlsx``, or
    ``reports/2025Q1-intern.xlsx`` for the unsuppressed figures."""
    return get_settings().report_dir / f"{quarter}{'-intern' if internal else ''}.{fmt}"


@task(name="write-report")
def write_report_task(book: ReportBook, fmt: str, output: str | None) -> str:
    """Write the report; returns the text (json/csv) or the path written (xlsx/html)."""
    if fmt in TEXT_FORMATS:
        text = render_text(book.report, fmt)
        if output:
            _ensure_parent(Path(output)).write_text(text, encoding="utf-8")
        return text
    internal = not book.report["suppressed"]
    path = Path(output) if output else default_output(book.report["quarter"], fmt, internal)
    path = _ensure_parent(path)
    document = render(book, fmt)
    if isinstance(document, bytes):
        path.write_bytes(document)
    else:
        path.write_text(document, encoding="utf-8")
    return str(path)


def _ensure_parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def artifact_key(quarter: str) -> str:
    """Stable Prefect artifact key of a quarter: lowercase letters, digits and dashes."""
    return f"kwartaalrapportage-{quarter.lower()}"


@task(name="publish-artifacts")
def publish_artifacts_task(book: ReportBook) -> None:
    """A table and a markdown summary in the Prefect UI: a closed quarter's published book."""
    from workflows.report_html import markdown_summary

    assert book.report["suppressed"] and book.status == "vastgesteld", "only published books"
    quarter = book.report["quarter"]
    table = [
        {"niveau": line.level, "cluster": line.row.get("cluster", ""),
         "directie": line.row.get("directorate", "")} | _counts(line.row)
        for indicator in INDICATORS
        for line in book.lines(indicator)
    ]  # fmt: skip
    key = artifact_key(quarter)
    create_table_artifact(
        key=f"{key}-tabel", table=table, description=f"Kwartaalrapportage {quarter} (cijfers)"
    )
    create_markdown_artifact(
        key=key, markdown=markdown_summary(book), description=f"Kwartaalrapportage {quarter}"
    )


def _counts(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "indicator": row["indicator"],
        "voldaan": row["met"],
        "toegelicht": row["explained"],
        "losgelaten": row["released"],
        "niet_voldaan": row["not_met"],
        "totaal": row["total"],
    }


@task(name="closed")
def closed_task(quarter: str) -> bool:
    with session_scope(get_engine()) as session:
        return quarter in current_snapshots(session)


@task(name="build-year-report")
def build_year_task(year: int, suppress: bool) -> YearBook:
    with session_scope(get_engine()) as session:
        return build_year_report(session, year, suppress)


@flow(name="idflow-quarterly-report")
def report_flow(
    quarter: str | None = None,
    fmt: str = "json",
    suppress: bool = True,
    output: str | None = None,
    restated: bool = False,
    version: int | None = None,
    year: int | None = None,
) -> str:
    """Roll up, then build the report of ``quarter`` (default: the quarter just ended); a
    closed quarter as frozen (``version``: that snapshot), unless ``restated``; or, with
    ``year``, the yearly report. Only a closed quarter or a published year is published:
    otherwise ``suppress`` is refused and the internal figures say so.

    json/csv: returns the report text (also written to ``output`` when given); xlsx/html:
    writes ``output`` (default ``reports/<quarter>.<fmt>``, ``-intern`` for internal
    figures) and returns its path. A closed quarter's run also refreshes its artifacts.
    """
    roll_up_task()
    if year is not None:
        text = render_year(build_year_task(year, suppress), fmt)
        if output:
            _ensure_parent(Path(output)).write_text(text, encoding="utf-8")
        return text
    quarter = report_quarter(quarter or last_finished_quarter(datetime.now(UTC)))
    check_format(fmt)
    book = build_report_task(quarter, suppress, restated, version)
    result = write_report_task(book, fmt, output)
    if closed_task(quarter):
        published = book if suppress and not restated and version is None else None
        publish_artifacts_task(published or build_report_task(quarter, True))
    return result
