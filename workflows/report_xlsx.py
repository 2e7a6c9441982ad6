"""The kwartaalrapportage as an XLSX workbook: a sheet per indicator, deviations, trend."""

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procedures.disclosure import MUNICIPALITY
from procedures.report import (
    INDICATOR_LABELS,
    INDICATORS,
    INTERNAL,
    NORM_PCT,
    OUTCOME_LABELS,
    STATUS_LABELS,
    published_pct,
    published_status,
)
from procedures.report_book import ReportBook
from workflows.report_html import correction_lines, status_heading

YEARLY_ONLY = (
    "Niet in de kwartaalrapportage: redenen uit exitgesprekken worden alleen per jaar en per "
    "cluster gepubliceerd, in de jaarrapportage, en alleen waar genoeg gesprekken zijn gehouden."
)
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
FILLS = {
    "on_norm": PatternFill("solid", fgColor="C6EFCE"),
    "explained": PatternFill("solid", fgColor="FFEB9C"),
    "below_norm": PatternFill("solid", fgColor="FFC7CE"),
}
INDICATOR_COLUMNS = (
    "Niveau",
    "Cluster",
    "Directie",
    "Voldaan",
    "Toegelicht",
    "Losgelaten",
    "Niet voldaan",
    "Totaal",
    "% voldaan",
    "Norm",
    "Status",
)


def xlsx_bytes(book: ReportBook) -> bytes:
    """The workbook of ``book`` as the bytes of an .xlsx file."""
    buffer = io.BytesIO()
    workbook = Workbook()
    _overview(workbook.active, book)  # type: ignore[arg-type]
    for indicator in INDICATORS:
        _indicator_sheet(workbook.create_sheet(_sheet_title(indicator)), book, indicator)
    _deviation_sheet(workbook.create_sheet("Afwijkingen"), book)
    _correction_sheet(workbook.create_sheet("Correcties"), book)
    _trend_sheet(workbook.create_sheet("Trend"), book)
    _exit_reason_sheet(workbook.create_sheet("Exitredenen"), book)
    as_plain_text(workbook)
    workbook.save(buffer)
    return buffer.getvalue()


def as_plain_text(workbook: Workbook) -> None:
    """Keep text that starts with '=' as text: a recruiter's explanation or a vacancy title
    must never become a live formula in P&O's spreadsheet. The workbooks have no formulas."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _sheet_title(indicator: str) -> str:
    return f"{indicator} {INDICATOR_LABELS[indicator]}"[:31]


def _overview(sheet: Worksheet, book: ReportBook) -> None:
    sheet.title = "Overzicht"
    quarter = book.report["quarter"]
    lines = [
        (f"Kwartaalrapportage I&D-vacatures {quarter}", TITLE),
        (f"Norm: {NORM_PCT}% voldaan per indicator (pas toe of leg uit).", None),
        ("Op norm: alles voldaan. Toegelicht: elke afwijking toegelicht of losgelaten.", None),
        ("Onder norm: minstens één afwijking zonder toelichting.", None),
        (status_heading(book.report), BOLD),
        (_suppression_note(book), None),
    ]
    for number, (text, font) in enumerate(lines, 1):
        sheet.cell(row=number, column=1, value=text).font = font or Font()
    sheet.column_dimensions["A"].width = 100


def _suppression_note(book: ReportBook) -> str:
    if not book.report["suppressed"]:
        return f"{INTERNAL.capitalize()}: ongemaskeerde aantallen."
    k = book.threshold
    return (
        f"Publicatieversie: aantallen 1 t/m {k - 1} en ter bescherming gekozen nullen staan als "
        f"<{k}; 'x' is ter bescherming verborgen (>= {k}); '-' is niet gepubliceerd."
    )


def _indicator_sheet(sheet: Worksheet, book: ReportBook, indicator: str) -> None:
    label = "" if book.report["suppressed"] else f" ({INTERNAL})"
    sheet.append([f"{indicator} {INDICATOR_LABELS[indicator]} - {book.report['quarter']}{label}"])
    sheet["A1"].font = TITLE
    sheet.append(list(INDICATOR_COLUMNS))
    for cell in sheet[2]:
        cell.font = BOLD
    for line in book.lines(indicator):
        labels = {"gemeente": ("Gemeente", "", ""), "cluster": ("Cluster", line.cluster, "")}
        _append(
            sheet,
            labels.get(line.level, ("Directie", line.cluster, line.name)),
            line.row,
            bold=line.level != "directie",
        )
    _widths(sheet, (10, 36, 44, 10, 11, 11, 13, 9, 11, 8, 22))
    sheet.freeze_panes = "A3"


def _append(
    sheet: Worksheet, labels: tuple[str, str, str], row: dict[str, Any], bold=False
) -> None:
    pct = published_pct(row)
    status = published_status(row)
    values = [
        *labels,
        *(row[name] for name in ("met", "explained", "released", "not_met", "total")),
        None if pct is None else pct / 100,
        NORM_PCT / 100,
        STATUS_LABELS[status],
    ]
    sheet.append(values)
    cells = sheet[sheet.max_row]
    for cell in cells[8:10]:
        cell.number_format = "0.0%"
    for cell in cells[3:8]:
        cell.alignment = Alignment(horizontal="right")
    if status in FILLS:
        cells[10].fill = FILLS[status]
    if bold:
        for cell in cells:
            cell.font = BOLD


def _deviation_sheet(sheet: Worksheet, book: ReportBook) -> None:
    sheet.append(["Vacature", "Cluster", "Directie", "Stap", "Uitkomst", "Toelichting"])
    for cell in sheet[1]:
        cell.font = BOLD
    if book.report["suppressed"]:
        sheet.append(["Niet in de publicatieversie: per vacature zijn afwijkingen herleidbaar."])
        sheet.append(["Vraag de interne versie op (idflow report --no-suppress)."])
    for item in book.deviations:
        sheet.append(
            [
                item["vacancy"],
                book.organisation.cluster_name(item["cluster"]),
                book.organisation.directorate_name(item["directorate"]),
                f"{item['indicator']} {item['step']}",
                OUTCOME_LABELS.get(item["outcome"], item["outcome"]),
                item["explanation"],
            ]
        )
    _widths(sheet, (18, 30, 40, 28, 14, 80))
    sheet.freeze_panes = "A2"


def _correction_sheet(sheet: Worksheet, book: ReportBook) -> None:
    sheet.append(["Correcties op vastgestelde kwartalen"])
    sheet["A1"].font = TITLE
    sheet.append(
        [
            "Wat na het vaststellen nog in een eerder kwartaal is afgerond of toegelicht: de "
            "cijfers zoals ze nu zijn min de vastgestelde, voor zover nog niet eerder genoemd."
        ]
    )
    sheet.append(["Kwartaal", "Cluster", "Directie", "Indicator", *INDICATOR_COLUMNS[3:8]])
    for cell in sheet[3]:
        cell.font = BOLD
    for line in correction_lines(book):
        sheet.append([line["quarter"], line["cluster"], line["directorate"], line["indicator"],
                      *line["counts"]])  # fmt: skip
    if not book.report.get("corrections"):
        sheet.append(["Geen correcties op vastgestelde kwartalen."])
    elif book.report["suppressed"]:
        sheet.append([f"-: een regel met een klein verschil (minder dan {book.threshold})."])
    _widths(sheet, (10, 36, 44, 28, 10, 11, 11, 13, 9))


def _trend_sheet(sheet: Worksheet, book: ReportBook) -> None:
    quarters = book.quarters
    sheet.append(["% voldaan per kwartaal (norm 100%)"])
    sheet["A1"].font = TITLE
    sheet.append(["Indicator", "Niveau", *quarters])
    for cell in sheet[2]:
        cell.font = BOLD
    points = {(p["indicator"], p["cluster"], p["quarter"]): p["pct_met"] for p in book.trend}
    places = [MUNICIPALITY, *sorted(book.cluster_names)]
    for indicator in INDICATORS:
        for place in places:
            name = book.organisation.cluster_name(place)
            values = [points.get((indicator, place, q)) for q in quarters]
            sheet.append(
                [f"{indicator} {INDICATOR_LABELS[indicator]}", name]
                + [None if v is None else v / 100 for v in values]
            )
            for cell in sheet[sheet.max_row][2:]:
                cell.number_format = "0.0%"
    _widths(sheet, (28, 36, *[10] * len(quarters)))
    sheet.freeze_panes = "C3"


def _exit_reason_sheet(sheet: Worksheet, book: ReportBook) -> None:
    year = book.report["quarter"][:4]
    sheet.append([f"Redenen uit exitgesprekken {year} t/m {book.report['quarter']}, per cluster"])
    sheet["A1"].font = TITLE
    sheet.append(["Een exitgesprek kan meer redenen noemen; de aantallen tellen dus niet op."])
    reasons, rows = book.exit_reason_table()
    if book.report["suppressed"]:
        sheet.append([YEARLY_ONLY])
    elif not rows:
        sheet.append(["Geen exitgesprekken met redenen in deze periode."])
    else:
        sheet.append(["Cluster", *reasons])
        for cell in sheet[3]:
            cell.font = BOLD
        for name, counts in rows:
            sheet.append([name, *counts])
    _widths(sheet, (36, *[14] * len(reasons)))


def _widths(sheet: Worksheet, widths: tuple[int, ...]) -> None:
    for number, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(number)].width = width
