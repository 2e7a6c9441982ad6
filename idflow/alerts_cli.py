"""``idflow alerts``: list, dispatch and scan the alerts to P&O; show and check the routing."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from models import get_engine, get_settings, session_scope
from notifications.channels import SEPARATOR, describe
from notifications.dispatch import retry_failed
from notifications.routing import Routing, RoutingError, load_checked
from notifications.status import failed_deliveries, list_alerts
from procedures.alerts import KIND_LABELS, parse_as_of
from procedures.errors import InvalidInput

alerts_app = typer.Typer(
    help="Meldingen aan P&O: bekijken, verzenden, termijnen.", no_args_is_help=True
)
routing_app = typer.Typer(help="Routering: wie welke meldingen krijgt.", no_args_is_help=True)
alerts_app.add_typer(routing_app, name="routing")
out = Console()
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def _routing_errors() -> Iterator[None]:
    try:
        yield
    except RoutingError as error:
        raise InvalidInput(str(error)) from None


@alerts_app.command("list")
def list_(
    status: str | None = typer.Option(None, help="pending, routed, delivered, failed, unrouted"),
    kind: str | None = typer.Option(None, help=f"Soort: {', '.join(KIND_LABELS)}"),
    failed: bool = typer.Option(False, "--failed", help="Alleen opgegeven verzendingen"),
    limit: int = typer.Option(50, help="Hoogstens zoveel regels"),
    as_json: bool = typer.Option(False, "--json", help="Als JSON"),
) -> None:
    """List alerts (newest first) with their deliveries, or the failed deliveries."""
    with session_scope(get_engine()) as session:
        rows = (
            failed_deliveries(session, limit)
            if failed
            else list_alerts(session, status, kind, limit)
        )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif failed:
        _print_failed(rows)
    else:
        _print_alerts(rows)


@alerts_app.command()
def dispatch(
    as_of: str | None = typer.Option(None, help="Tijdstip ISO 8601 (standaard: nu)"),
    routing: Path | None = typer.Option(None, help="Routeringsbestand (standaard: instelling)"),
) -> None:
    """Run the dispatch flow: immediate alerts now, informational ones as a daily digest."""
    from workflows.alerts import dispatch_flow

    parse_as_of(as_of)
    with _routing_errors():
        summary = dispatch_flow(as_of=as_of, routing_file=str(routing) if routing else None)
    out.print(
        f"Verzonden: {summary['messages']} berichten ({summary['delivered']} meldingen, "
        f"{summary['digests']} dagoverzichten); {summary['planned']} nieuw ingepland, "
        f"{summary['retrying']} wachten op een nieuwe poging, {summary['waiting_for_digest']} "
        f"wachten op het dagoverzicht, {summary['unrouted']} zonder ontvanger."
    )
    if summary["failed"]:
        _print_failed(summary["failed"], console=err)
        raise typer.Exit(code=1)


@alerts_app.command()
def scan(as_of: str | None = typer.Option(None, help="Tijdstip ISO 8601 (standaard: nu)")) -> None:
    """Run the overdue scan (and the below-norm check of the quarter before ``as_of``)."""
    from workflows.alerts import overdue_scan_flow

    parse_as_of(as_of)
    result = overdue_scan_flow(as_of=as_of)
    out.print(
        f"Scan per {result['as_of']}: {result['overdue']} nieuwe meldingen over de termijn, "
        f"{result['below_norm']} directies onder de norm in {result['quarter']}."
    )


@alerts_app.command()
def retry(recipient: str | None = typer.Option(None, help="Alleen deze ontvanger")) -> None:
    """Put failed deliveries back in the queue (after the channel was repaired)."""
    count = retry_failed(get_engine(), recipient)
    out.print(f"{count} opgegeven verzendingen staan weer in de wachtrij.")


@routing_app.command("show")
def routing_show(
    file: Path | None = typer.Argument(None, help="Standaard: IDFLOW_ROUTING_FILE"),
) -> None:
    """Show who receives which alerts, and on which channels (secrets masked)."""
    out.print(_routing_table(_load(file)))


@routing_app.command("validate")
def routing_validate(file: Path = typer.Argument(..., help="Het routeringsbestand")) -> None:
    """Check a routing file: structure, kinds, cluster and directorate codes, channel URLs."""
    routing = _load(file)
    out.print(f"Routeringsbestand {file} is in orde: {len(routing.recipients)} ontvangers.")


def _load(file: Path | None) -> Routing:
    with _routing_errors(), session_scope(get_engine()) as session:
        return load_checked(session, file or get_settings().routing_file)


def _routing_table(routing: Routing) -> Table:
    table = Table("ontvanger", "clusters / directies", "soorten", "kanalen", title=routing.source)
    for r in routing.recipients:
        scope = ", ".join(sorted(r.clusters) + sorted(r.directorates))
        kinds = "alle" if len(r.kinds) == len(KIND_LABELS) else ", ".join(sorted(r.kinds))
        channels = "\n".join(describe(url) for url in r.channels)
        table.add_row(f"{r.id}\n{r.name}", scope, kinds, channels)
    return table


def _print_alerts(rows: list[dict[str, Any]]) -> None:
    table = Table("id", "soort", "vacature", "directie", "aangemaakt", "status", "verzending")
    for row in rows:
        d = row["deliveries"]
        table.add_row(
            str(row["id"]),
            KIND_LABELS.get(row["kind"], row["kind"])
            + ("" if row["immediate"] else " (overzicht)"),
            row["vacancy"] or "-",
            row["directorate"] or "-",
            row["created_at"],
            row["status"],
            f"{d['sent']} verzonden, {d['pending'] + d['sending']} wachtend, {d['failed']} mislukt",
        )
    out.print(table)
    out.print(f"{len(rows)} meldingen.")


def _print_failed(rows: list[dict[str, Any]], console: Console = out) -> None:
    table = Table("ontvanger", "oorzaak", "pogingen", "fout", title="Opgegeven verzendingen")
    for row in rows:
        table.add_row(row["recipient"], row["cause"], str(row["attempts"]), row["error"])
    console.print(table)


DEMO_ROUTING = """# Demo: every alert to one file; see notifications/routing.example.yaml.
recipients:
  - id: po-demo
    name: P&O (demo, alle clusters)
    clusters: ["*"]
    channels: ["file://{target}"]
"""


def demo_alerts(console: Console, folder: Path = Path("meldingen")) -> None:
    """For ``idflow demo``: scan, then dispatch every alert to a file channel in ``folder``."""
    from workflows.alerts import dispatch_flow, overdue_scan_flow

    target = folder / "po-meldingen.txt"
    routing = folder / "routing.yaml"
    if not routing.exists():
        folder.mkdir(parents=True, exist_ok=True)
        routing.write_text(DEMO_ROUTING.format(target=target.resolve()), encoding="utf-8")
    overdue_scan_flow()
    with _routing_errors():
        summary = dispatch_flow(routing_file=str(routing))
    console.print(
        f"Meldingen aan P&O: {summary['delivered']} verzonden naar {target} "
        f"({summary['messages']} berichten; {summary['waiting_for_digest']} informatieve "
        f"wachten op het dagoverzicht van morgen). Routering: {routing}."
    )
    messages = target.read_text(encoding="utf-8").split(SEPARATOR) if target.exists() else []
    if len(messages) > 1:  # show one as P&O receives it
        first = messages[1].strip()
        console.print(Panel(Text(first), title="Eerste melding in het bestand", expand=False))
