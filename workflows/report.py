"""The quarterly report flow: roll up, build the kwartaalrapportage, write it, publish artifacts."""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models import get_engine, get_settings, session_scope
from procedures.calendar import last_finished_quarter, parse_quarter
from procedures.errors import InvalidInput
from procedures.report import ReportBook, report_book
from procedures.store import current_policy_version, load_policy
from workflows.rollup import roll_up_task

FORMATS = ("json", "csv", "xlsx", "html")
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
def build_report_task(quarter: str, suppress: bool) -> ReportBook:
    """Figures, trend and deviations of ``quarter`` (suppressed for publication by default)."""
    with session_scope(get_engine()) as session:
        threshold = load_policy(session, current_policy_version(session)).suppression_threshold
        return report_book(session, quarter, threshold, suppress)


def render(report: dict[str, Any] | ReportBook, fmt: str) -> str | bytes:
    """The report in ``fmt``: JSON/CSV text, HTML text or XLSX bytes.

    Given only the report's figures (no trend, no deviations), XLSX and HTML show just those.
    """
    if isinstance(report, ReportBook) or fmt in ("xlsx", "html"):
        book = report if isinstance(report, ReportBook) else _bare_book(report)
        return render_document(book, fmt)
    return render_text(report, fmt)


def render_document(book: ReportBook, fmt: str) -> str | bytes:
    """``book`` in any of the formats (XLSX as bytes)."""
    if fmt == "xlsx":
        from workflows.report_xlsx import xlsx_bytes

        return xlsx_bytes(book)
    if fmt == "html":
        from workflows.report_html import render_html

        return render_html(book)
    return render_text(book.report, fmt)


def _bare_book(report: dict[str, Any]) -> ReportBook:
    return ReportBook(report, [], [], {}, {}, report.get("threshold", 5))


def render_text(report: dict[str, Any], fmt: str) -> str:
    """The report as JSON or CSV text (the same rows)."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(report["rows"])
    return out.getvalue()


def default_output(quarter: str, fmt: str) -> Path:
    """Where a binary or HTML report goes when no path is given: ``reports/2025Q1.xlsx``."""
    return get_settings().report_dir / f"{quarter}.{fmt}"


@task(name="write-report")
def write_report_task(book: ReportBook, fmt: str, output: str | None) -> str:
    """Write the report; returns the text (json/csv) or the path written (xlsx/html)."""
    if fmt in TEXT_FORMATS:
        text = render_text(book.report, fmt)
        if output:
            _ensure_parent(Path(output)).write_text(text, encoding="utf-8")
        return text
    path = _ensure_parent(Path(output) if output else default_output(book.report["quarter"], fmt))
    document = render_document(book, fmt)
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
    """A table and a markdown summary in the Prefect UI, always with the suppressed figures."""
    from workflows.report_html import markdown_summary

    quarter = book.report["quarter"]
    table = [
        {"niveau": "gemeente", "cluster": "", "directie": ""} | _counts(row)
        for row in book.report["municipality_totals"]
    ]
    table += [
        {"niveau": "cluster", "cluster": row["cluster"], "directie": ""} | _counts(row)
        for row in book.report["cluster_totals"]
    ]
    table += [
        {"niveau": "directie", "cluster": row["cluster"], "directie": row["directorate"]}
        | _counts(row)
        for row in book.report["rows"]
    ]
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


@flow(name="idflow-quarterly-report")
def report_flow(
    quarter: str | None = None, fmt: str = "json", suppress: bool = True, output: str | None = None
) -> str:
    """Roll up, then build the report of ``quarter`` (default: the quarter just ended).

    json/csv: returns the report text (also written to ``output`` when given); xlsx/html:
    writes ``output`` (default ``reports/<quarter>.<fmt>``) and returns its path.
    """
    quarter = quarter or last_finished_quarter(datetime.now(UTC))
    year, q = parse_quarter(quarter)
    quarter = f"{year}Q{q}"
    if fmt not in FORMATS:
        raise InvalidInput(f"Onbekend rapportformaat '{fmt}'; kies uit: {', '.join(FORMATS)}.")
    roll_up_task()
    book = build_report_task(quarter, suppress)
    result = write_report_task(book, fmt, output)
    published = book if suppress else build_report_task(quarter, True)
    publish_artifacts_task(published)
    return result
