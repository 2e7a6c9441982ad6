"""The kwartaalrapportage as one standalone HTML file with inline SVG charts (no JS, no CDN)."""

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from procedures.disclosure import MUNICIPALITY
from procedures.report import (
    INDICATOR_LABELS,
    INDICATORS,
    NORM_PCT,
    OUTCOME_LABELS,
    STATUS_LABELS,
    ReportBook,
    published_pct,
    published_status,
)

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
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=[_section(book, indicator) for indicator in INDICATORS],
        trends=[_trend_chart(book, indicator) for indicator in INDICATORS],
        deviations=_deviations(book),
        status_labels=STATUS_LABELS,
        k=book.threshold,
    )


def _section(book: ReportBook, indicator: str) -> dict[str, Any]:
    report = book.report
    totals = [r for r in report["municipality_totals"] if r["indicator"] == indicator]
    clusters = [r for r in report["cluster_totals"] if r["indicator"] == indicator]
    table = [_line("Gemeente", "gemeente", row) for row in totals]
    for total in clusters:
        table.append(
            _line(book.cluster_names.get(total["cluster"], total["cluster"]), "cluster", total)
        )
        table += [
            _line(book.directorate_names.get(r["directorate"], r["directorate"]), "directie", r)
            for r in report["rows"]
            if r["cluster"] == total["cluster"] and r["indicator"] == indicator
        ]
    bars = [("Gemeente", totals[0])] if totals else []
    bars += [(book.cluster_names.get(r["cluster"], r["cluster"]), r) for r in clusters]
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
        "counts": [row[c] for c in ("met", "explained", "released", "not_met", "total")],
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
            "directorate_name": book.directorate_names.get(
                item["directorate"], item["directorate"]
            ),
            "outcome_label": OUTCOME_LABELS.get(item["outcome"], item["outcome"]),
        }
        for item in book.deviations
    ]


def markdown_summary(book: ReportBook) -> str:
    """A short Markdown summary (the Prefect artifact): % met per indicator and cluster."""
    quarter = book.report["quarter"]
    lines = [
        f"# Kwartaalrapportage {quarter}",
        "",
        f"Norm: {NORM_PCT}% voldaan. Publicatieversie (kleine aantallen onderdrukt).",
        "",
        "| Indicator | Niveau | Voldaan | Totaal | % voldaan | Status |",
        "|---|---|---:|---:|---:|---|",
    ]
    rows = [(r, "Gemeente") for r in book.report["municipality_totals"]]
    rows += [
        (r, book.cluster_names.get(r["cluster"], r["cluster"]))
        for r in book.report["cluster_totals"]
    ]
    for row, place in sorted(rows, key=lambda item: (item[0]["indicator"], item[1] != "Gemeente")):
        pct = published_pct(row)
        lines.append(
            f"| {row['indicator']} {INDICATOR_LABELS[row['indicator']]} | {place} | {row['met']} "
            f"| {row['total']} | {'-' if pct is None else f'{pct:.1f}%'} "
            f"| {STATUS_LABELS[published_status(row)]} |"
        )
    return "\n".join(lines) + "\n"
