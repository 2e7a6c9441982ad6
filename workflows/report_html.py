"""The kwartaalrapportage as one standalone HTML file with inline SVG charts (no JS, no CDN)."""

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from procedures.disclosure import MUNICIPALITY
from procedures.report import (
    CLOSED,
    COUNTS,
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

BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, PLOT_WIDTH = 18, 6, 230, 360
TREND_WIDTH, TREND_HEIGHT, TREND_LEFT, TREND_TOP = 330, 170, 40, 14

_ENV = Environment(
    loader=PackageLoader("workflows", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(book: ReportBook) -> str:
    """The whole report as an HTML document."""
    template = _ENV.get_template("kwartaalrapportage.html.j2")
    return template.render(
        book=book,
        quarter=book.report["quarter"],
        norm=NORM_PCT,
        generated=_generated(book.report),
        heading=status_heading(book.report),
        sections=[_section(book, indicator) for indicator in INDICATORS],
        trends=[_trend_chart(book, indicator) for indicator in INDICATORS],
        deviations=_deviations(book),
        corrections=correction_lines(book),
        status_labels=STATUS_LABELS,
        k=book.threshold,
        internal=INTERNAL,
    )


def _generated(report: dict[str, Any]) -> str:
    """When the report was made: for a closed quarter its close, so the file never changes."""
    if report.get("status") == CLOSED and not report.get("restated"):
        return _moment(report["closed_at"])
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_heading(report: dict[str, Any]) -> str:
    """One Dutch sentence on the report's status: provisional, fixed, or restated."""
    if report.get("status") != CLOSED:
        return (
            "Voorlopig: het kwartaal is nog niet vastgesteld; deze cijfers kunnen nog veranderen."
        )
    closed = f"vastgesteld op {_moment(report['closed_at'])} (versie {report['version']})"
    if report.get("restated"):
        return (
            f"Herberekend (intern): de cijfers zoals ze nu zijn. Het kwartaal is {closed}; "
            "de vastgestelde cijfers staan in de vastgestelde rapportage."
        )
    return (
        f"Vastgesteld: dit kwartaal is {closed}. Deze cijfers veranderen niet meer; latere "
        "wijzigingen staan als correcties in de volgende rapportages."
    )


def _moment(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%d-%m-%Y %H:%M")


def correction_lines(book: ReportBook) -> list[dict[str, Any]]:
    """The corrections section: per closed quarter, directorate and indicator."""
    org = book.organisation
    return [
        {
            "quarter": row["quarter"],
            "cluster": org.cluster_name(org.cluster_of(row["directorate"])),
            "directorate": org.directorate_name(row["directorate"]),
            "indicator": f"{row['indicator']} {INDICATOR_LABELS[row['indicator']]}",
            "counts": [row[c] for c in COUNTS],
        }
        for row in book.report.get("corrections", [])
    ]


def _section(book: ReportBook, indicator: str) -> dict[str, Any]:
    table = [_line(line.name, line.level, line.row) for line in book.lines(indicator)]
    bars = [(line.name, line.row) for line in book.lines(indicator) if line.level != "directie"]
    return {
        "indicator": indicator,
        "label": INDICATOR_LABELS[indicator],
        "table": table,
        "chart": _bar_chart(bars),
    }


def _line(name: str, level: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "level": level,
        "counts": [row[c] for c in COUNTS],
        "pct": published_pct(row),
        "status": published_status(row),
    }


def _bar_chart(bars: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Horizontal bars of % met with the norm line; geometry for the SVG template."""
    items = []
    for number, (name, row) in enumerate(bars):
        pct = published_pct(row)
        items.append(
            {
                "name": name,
                "y": number * (BAR_HEIGHT + BAR_GAP),
                "width": 0 if pct is None else round(PLOT_WIDTH * pct / 100, 1),
                "pct": pct,
                "status": published_status(row),
            }
        )
    height = max(1, len(items)) * (BAR_HEIGHT + BAR_GAP) + 24
    return {
        "items": items,
        "height": height,
        "label_width": LABEL_WIDTH,
        "plot_width": PLOT_WIDTH,
        "bar_height": BAR_HEIGHT,
        "norm_x": LABEL_WIDTH + PLOT_WIDTH * NORM_PCT / 100,
        "width": LABEL_WIDTH + PLOT_WIDTH + 70,
    }


def _trend_chart(book: ReportBook, indicator: str) -> dict[str, Any]:
    """The municipality's % met over the last quarters as a polyline against the norm."""
    quarters = book.quarters
    step = TREND_WIDTH / max(1, len(quarters) - 1)
    values = {
        p["quarter"]: p["pct_met"]
        for p in book.trend
        if p["indicator"] == indicator and p["cluster"] == MUNICIPALITY
    }
    points = []
    for number, quarter in enumerate(quarters):
        pct = values.get(quarter)
        x = TREND_LEFT + number * step
        y = None if pct is None else TREND_TOP + TREND_HEIGHT * (1 - pct / 100)
        points.append({"quarter": quarter, "x": round(x, 1), "y": y and round(y, 1), "pct": pct})
    known = [p for p in points if p["y"] is not None]
    return {
        "indicator": indicator,
        "label": INDICATOR_LABELS[indicator],
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in known),
        "left": TREND_LEFT,
        "top": TREND_TOP,
        "plot_width": TREND_WIDTH,
        "plot_height": TREND_HEIGHT,
        "norm_y": TREND_TOP + TREND_HEIGHT * (1 - NORM_PCT / 100),
        "grid": [(v, TREND_TOP + TREND_HEIGHT * (1 - v / 100)) for v in (0, 25, 50, 75, 100)],
    }


def _deviations(book: ReportBook) -> list[dict[str, Any]]:
    return [
        item
        | {
            "directorate_name": book.organisation.directorate_name(item["directorate"]),
            "outcome_label": OUTCOME_LABELS.get(item["outcome"], item["outcome"]),
        }
        for item in book.deviations
    ]


def markdown_summary(book: ReportBook) -> str:
    """A short Markdown summary (the Prefect artifact): % met per indicator and cluster."""
    quarter = book.report["quarter"]
    text = [
        f"# Kwartaalrapportage {quarter}",
        "",
        f"Norm: {NORM_PCT}% voldaan. Publicatieversie (kleine aantallen onderdrukt).",
        "",
        status_heading(book.report),
        "",
        "| Indicator | Niveau | Voldaan | Totaal | % voldaan | Status |",
        "|---|---|---:|---:|---:|---|",
    ]
    for indicator in INDICATORS:
        for line in book.lines(indicator):
            if line.level == "directie":
                continue
            row, pct = line.row, published_pct(line.row)
            text.append(
                f"| {indicator} {INDICATOR_LABELS[indicator]} | {line.name} | {row['met']} "
                f"| {row['total']} | {'-' if pct is None else f'{pct:.1f}%'} "
                f"| {STATUS_LABELS[published_status(row)]} |"
            )
    corrections = book.report.get("corrections", [])
    if corrections:
        text += ["", f"Correcties op vastgestelde kwartalen: {len(corrections)} regels."]
    return "\n".join(text) + "\n"
