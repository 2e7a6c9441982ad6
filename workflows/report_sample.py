"""The audit sample written as CSV and XLSX (the drawing itself is in ``procedures.sample``)."""

import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from models import get_settings
from procedures.sample import COLUMNS, Sample
from workflows.report_xlsx import as_plain_text

HEADERS = {
    "vacancy": "vacature",
    "directorate": "directie",
    "cluster": "cluster",
    "title": "functietitel",
    "scale": "schaal",
    "kind": "soort",
    "state": "toestand",
    "outcome_text": "uitkomst vacaturetekst",
    "opened_at": "geopend",
}


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_csv_text(value: object) -> object:
    """Text that a spreadsheet would run as a formula, kept as text: a leading apostrophe (as
    the XLSX keeps such text a string). Numbers and dates are written as they are."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


def write_sample(sample: Sample, output: str | None) -> tuple[Path, Path]:
    """Write ``sample`` to ``output`` (CSV) and the same name with ``.xlsx``; return both paths."""
    csv_path = (
        Path(output) if output else get_settings().report_dir / f"steekproef-{sample.year}.csv"
    )
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: as_csv_text(v) for k, v in row.items()} for row in sample.rows)
    xlsx_path = csv_path.with_suffix(".xlsx")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"Steekproef {sample.year}"  # type: ignore[union-attr]
    sheet.append([HEADERS[c] for c in COLUMNS])  # type: ignore[union-attr]
    for cell in sheet[1]:  # type: ignore[index]
        cell.font = Font(bold=True)
    for row in sample.rows:
        sheet.append([row[c] for c in COLUMNS])  # type: ignore[union-attr]
    summary = workbook.create_sheet("Verantwoording")
    summary.append(["cluster", "procedures geopend", "in steekproef"])
    for cluster in sorted(sample.population):
        summary.append([cluster, sample.population[cluster], sample.allocation[cluster]])
    summary.append([f"jaar {sample.year}, startgetal {sample.seed}, gestratificeerd per cluster"])
    as_plain_text(workbook)
    workbook.save(xlsx_path)
    return csv_path, xlsx_path
