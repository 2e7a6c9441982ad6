"""``idflow demo``: two simulated years through the engine, the flows, and a readable table."""

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, func, select

from idflow.alerts_cli import demo_alerts
from models import Directorate, Outbox, get_engine, session_scope
from procedures.calendar import last_finished_quarter, quarter_start, recent_quarters
from procedures.report import INDICATOR_LABELS, INDICATORS, NORM_PCT, Cell, total_cells
from procedures.report_builder import Sources, quarters_figures
from procedures.setup import initialise
from procedures.store import current_policy_version, load_policy


def run_demo(
    seed: int = typer.Option(2025, help="Startgetal van de simulatie (zelfde getal, zelfde data)"),
    per_year: float = typer.Option(8, help="Vacatures per directie per jaar"),
) -> None:
    """Simulate two years of procedures for every directorate, roll up, report, summarise."""
    from workflows.importer import import_events
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
    last = last_finished_quarter(now)
    first = recent_quarters(last, 8)[0]
    events = Simulator(policy, directorates, seed).events(
        quarter_start(first).date(), now, per_year
    )
    err.print(f"Simulatie: {len(directorates)} directies, {first} t/m nu (seed {seed}) ...")
    lines = ((n, e) for n, e in enumerate(events, 1))
    summary = import_events(engine, lines, origin="demo")
    err.print(
        f"Engine: {summary.applied} gebeurtenissen verwerkt, {summary.duplicate} dubbel, "
        f"{len(summary.refused)} geweigerd."
    )
    rollup_flow()
    report_dir = Path("reports")
    for fmt in ("json", "csv"):
        report_flow(quarter=last, fmt=fmt, suppress=True, output=str(report_dir / f"{last}.{fmt}"))
    with Session(engine) as session:
        _print_summary(console, session, last)
    demo_alerts(console)
    console.print(f"\nRapporten: {report_dir / (last + '.json')}, {report_dir / (last + '.csv')}")
    console.print(
        "Verder: 'idflow list --awaiting-explanation', 'idflow show VACATURE', "
        f"'idflow report --quarter {last} --no-suppress'."
    )
    console.print(
        "\nDe webpagina's op deze demodata (in deze map; elk commando vraagt een wachtwoord):\n"
        "  idflow users add pia --role pno                             (P&O: dashboard)\n"
        "  idflow users add rita --role recruiter --directorate SOC-OJZ  (vacatures)\n"
        "  IDFLOW_COOKIE_SECURE=false idflow serve\n"
        "en open http://127.0.0.1:8000/ in de browser; meld u aan als 'pia' of 'rita'."
    )


def _print_summary(console: Console, session: Session, last: str) -> None:
    quarters = recent_quarters(last, 4)
    sources = Sources.load(session)
    figures = quarters_figures(session, quarters, sources)
    cells = {
        (q, *key): cell for q in quarters for key, cell in total_cells(figures[q].internal).items()
    }
    cluster_names = sources.organisation.clusters
    table = Table(
        title=f"% voldaan (norm {NORM_PCT}%) per cluster, alle indicatoren samen",
        caption="✓ op norm · ~ afwijkingen toegelicht · ✗ onder norm (niet toegelicht)",
    )
    table.add_column("cluster")
    for quarter in quarters:
        table.add_column(quarter, justify="right")
    for code, name in sorted(cluster_names.items()) + [("*", "Gemeente totaal")]:
        row = [name]
        for quarter in quarters:
            total = Cell()
            for indicator in INDICATORS:
                total.add(cells.get((quarter, code, indicator), Cell()))
            row.append(_cell_text(total))
        table.add_row(*row)
    console.print(table)
    detail = Table(title=f"{last} per indicator")
    detail.add_column("cluster")
    for indicator in INDICATORS:
        detail.add_column(f"{indicator} {INDICATOR_LABELS[indicator]}", justify="right")
    for code, name in sorted(cluster_names.items()):
        detail.add_row(name, *(_cell_text(cells.get((last, code, i), Cell())) for i in INDICATORS))
    console.print(detail)
    waiting = session.exec(
        select(func.count()).select_from(Outbox).where(Outbox.status == "pending")
    ).one()
    console.print(f"Meldingen voor P&O die wachten op verzending: [bold]{waiting}[/]")


def _cell_text(cell: Cell) -> str:
    if not cell.total:
        return "-"
    mark = {"on_norm": "✓", "explained": "~", "below_norm": "✗"}[cell.status]
    return f"{cell.pct_met:.0f}% {mark} (n={cell.total})"
