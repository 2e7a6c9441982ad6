"""``idflow demo``: two simulated years through the engine as they happened (closes, yearly
reports), the flows, and a readable table of the published figures (``--intern``: raw)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, func, select

from idflow.alerts_cli import demo_alerts
from models import Directorate, Outbox, YearReport, get_engine, session_scope
from procedures.calendar import last_finished_quarter, quarter_start, recent_quarters
from procedures.disclosure import MUNICIPALITY
from procedures.report import INDICATOR_LABELS, INDICATORS, INTERNAL, NORM_PCT, OUTCOMES, Cell
from procedures.report_builder import Sources, quarters_figures
from procedures.setup import initialise
from procedures.snapshots import current_snapshots
from procedures.store import current_policy_version, load_policy


def run_demo(
    seed: int = typer.Option(2025, help="Startgetal van de simulatie (zelfde getal, zelfde data)"),
    per_year: float = typer.Option(8, help="Vacatures per directie per jaar"),
    intern: bool = typer.Option(
        False, "--intern", help="De ongemaskeerde cijfers in de tabellen (intern, niet publiceren)"
    ),
) -> None:
    """Simulate two years of procedures for every directorate as they happened (late entries,
    each quarter closed when due, each full year's report published), then summarise."""
    from workflows.replay import replay
    from workflows.report import report_flow
    from workflows.rollup import rollup_flow
    from workflows.simulate import Simulator

    console, err = Console(), Console(stderr=True)
    engine = get_engine()
    with session_scope(engine) as session:
        for line in initialise(engine, session):
            err.print(f"✓ {line}")
        policy = load_policy(session, current_policy_version(session))
        directorates = list(session.exec(select(Directorate.code).where(Directorate.active)))
    now = datetime.now(UTC)
    first = recent_quarters(last_finished_quarter(now), 8)[0]
    events = Simulator(policy, directorates, seed).events(
        quarter_start(first).date(), now, per_year
    )
    err.print(f"Simulatie: {len(directorates)} directies, {first} t/m nu (seed {seed}) ...")
    closes: list[tuple[str, float]] = []
    done = replay(engine, events, policy, now, on_close=lambda q, s: closes.append((q, s)))
    summary = done.summary
    err.print(
        f"Engine: {summary.applied} gebeurtenissen verwerkt, {summary.duplicate} dubbel, "
        f"{len(summary.refused)} geweigerd."
    )
    _print_closes(err, done.closed, done.years, closes)
    rollup_flow()
    with Session(engine) as session:
        closed = sorted(current_snapshots(session))
        years = list(session.exec(select(YearReport.year).order_by(col(YearReport.year))))
    written = _write_reports(report_flow, closed[-1:], years[-1:])
    with Session(engine) as session:
        _print_summary(console, session, last_finished_quarter(now), intern)
    demo_alerts(console)
    console.print(f"\nRapporten (gepubliceerd): {', '.join(written) or 'nog geen'}")
    latest = closed[-1] if closed else last_finished_quarter(now)
    console.print(
        "Verder: 'idflow quarter list', 'idflow list --awaiting-explanation', "
        f"'idflow report --quarter {latest}', 'idflow report --quarter {latest} --no-suppress' "
        "(intern), 'idflow demo --intern'."
    )
    console.print(
        "\nDe webpagina's op deze demodata (in deze map; elk commando vraagt een wachtwoord):\n"
        "  idflow users add pia --role pno                             (P&O: dashboard)\n"
        "  idflow users add rita --role recruiter --directorate SOC-OJZ  (vacatures)\n"
        "  IDFLOW_COOKIE_SECURE=false idflow serve\n"
        "en open http://127.0.0.1:8000/ in de browser; meld u aan als 'pia' of 'rita'."
    )


def _print_closes(
    err: Console, closed: list[str], years: list[int], closes: list[tuple[str, float]]
) -> None:
    if closes:
        slowest = max(closes, key=lambda pair: pair[1])
        err.print(
            f"Vastgesteld: {len(closed)} kwartalen ({', '.join(closed) or 'geen nieuwe'}); de "
            f"langste vaststelling, {slowest[0]}, duurde {slowest[1]:.1f} s. Jaarrapportages: "
            f"{', '.join(map(str, years)) or 'geen nieuwe'}."
        )


def _write_reports(report_flow: Any, quarters: list[str], years: list[int]) -> list[str]:
    """The published reports of the newest closed quarter and the newest published year."""
    report_dir, written = Path("reports"), []
    for quarter in quarters:
        for fmt in ("json", "csv"):
            path = report_dir / f"{quarter}.{fmt}"
            report_flow(quarter=quarter, fmt=fmt, suppress=True, output=str(path))
            written.append(str(path))
    for year in years:
        path = report_dir / f"jaar-{year}.json"
        report_flow(year=year, fmt="json", suppress=True, output=str(path))
        written.append(str(path))
    return written


def _print_summary(console: Console, session: Session, last: str, intern: bool) -> None:
    """Per cluster and quarter, % met over all indicators: as published (closed quarters;
    where a hidden figure is needed the cell says so), or with ``intern`` the raw figures."""
    quarters = recent_quarters(last, 4)
    sources = Sources.load(session)
    figures = quarters_figures(session, quarters, sources)
    label = f" ({INTERNAL})" if intern else " (gepubliceerde cijfers)"
    cells = {q: _places(figures[q].side(not intern)) for q in quarters}
    names = sorted(sources.organisation.clusters.items()) + [(MUNICIPALITY, "Gemeente totaal")]
    table = Table(
        title=f"% voldaan (norm {NORM_PCT}%) per cluster, alle indicatoren samen{label}",
        caption=CAPTION if intern else CAPTION + PUBLISHED_CAPTION,
    )
    table.add_column("cluster")
    for quarter in quarters:
        table.add_column(quarter, justify="right")
    for code, name in names:
        table.add_row(name, *(_text(cells[q], code, INDICATORS) for q in quarters))
    console.print(table)
    detail = Table(title=f"{last} per indicator{label}")
    detail.add_column("cluster")
    for indicator in INDICATORS:
        detail.add_column(f"{indicator} {INDICATOR_LABELS[indicator]}", justify="right")
    for code, name in names[:-1]:
        detail.add_row(name, *(_text(cells[last], code, (i,)) for i in INDICATORS))
    console.print(detail)
    waiting = session.exec(
        select(func.count()).select_from(Outbox).where(Outbox.status == "pending")
    ).one()
    console.print(f"Meldingen voor P&O die wachten op verzending: [bold]{waiting}[/]")


CAPTION = "✓ op norm · ~ afwijkingen toegelicht · ✗ onder norm (niet toegelicht)"
PUBLISHED_CAPTION = (
    "\nvoorlopig: nog niet vastgesteld, niet gepubliceerd · onderdrukt: een verborgen aantal "
    "(<5 of x) is nodig · 'idflow demo --intern' toont de ruwe cijfers"
)


def _places(report: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]] | None:
    if report is None:
        return None
    places = {(r["cluster"], r["indicator"]): r for r in report["cluster_totals"]}
    return places | {(MUNICIPALITY, r["indicator"]): r for r in report["municipality_totals"]}


def _text(
    places: dict[tuple[str, str], dict[str, Any]] | None, code: str, indicators: tuple[str, ...]
) -> str:
    if places is None:
        return "voorlopig"
    rows = [places[(code, i)] for i in indicators if (code, i) in places]
    if any(not isinstance(r[c], int) for r in rows for c in ("met", "total")):
        return "onderdrukt"
    met, total = sum(r["met"] for r in rows), sum(r["total"] for r in rows)
    if not total:
        return "-"
    mark = ""  # the kind of deviation shows only when every outcome is published
    if all(isinstance(r[o], int) for r in rows for o in OUTCOMES):
        cell = Cell()
        for row in rows:
            cell.add(Cell.of(row))
        mark = " " + {"on_norm": "✓", "explained": "~", "below_norm": "✗"}[cell.status]
    return f"{100 * met / total:.0f}%{mark} (n={total})"
