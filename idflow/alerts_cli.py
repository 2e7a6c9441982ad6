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
from notifications.channels import SEPARATOR
from notifications.dispatch import retry_failed
from notifications.routing import (
    Routing,
    RoutingError,
    coverage_gaps,
    load_checked,
    organisation_codes,
)
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
    status: str | None = typer.Option(None, help="pending, routed, delivered, failed, historical"),
    kind: str | None = typer.Option(None, help=f"Soort: {', '.join(KIND_LABELS)}"),
    failed: bool = typer.Option(False, "--failed", help="Alleen mislukte verzendingen"),
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
    """Run the dispatch flow; non-zero exit when a delivery failed or an alert had no
    recipient of its own (it then went to the fallback)."""
    parse_as_of(as_of)
    summary = run_dispatch(as_of, str(routing) if routing else None)
    out.print(dispatch_line(summary))
    if summary["unrouted"]:
        err.print(
            f"Zonder eigen ontvanger, naar de vangnetontvanger gestuurd: "
            f"{', '.join(summary['unrouted'])}. Vul de routering aan "
            "(idflow alerts routing validate toont wat ontbreekt)."
        )
    if summary["failed"]:
        _print_failed(summary["failed"], console=err)
    if summary["failed"] or summary["unrouted"]:
        raise typer.Exit(code=1)


def run_dispatch(as_of: str | None, routing_file: str | None) -> dict[str, Any]:
    """The dispatch flow's summary, also when the run ended Failed (failed or unrouted)."""
    from workflows.alerts import dispatch_flow

    with _routing_errors():
        state = dispatch_flow(as_of=as_of, routing_file=routing_file, return_state=True)
        summary = state.result(raise_on_failure=False)
        if isinstance(summary, BaseException):  # the run itself broke (database, routing)
            raise summary
    return dict(summary)


def dispatch_line(summary: dict[str, Any]) -> str:
    """One Dutch line with every count of a dispatch run."""
    return (
        f"Verzonden: {summary['messages']} berichten ({summary['delivered']} verzendingen, "
        f"{summary['digests']} dagoverzichten); {summary['planned']} nieuw ingepland, "
        f"{summary['historical']} historisch (niet verzonden), {len(summary['unrouted'])} "
        f"zonder eigen ontvanger; {summary['waiting']} wachten op een (nieuwe) poging, "
        f"{summary['waiting_for_digest']} wachten op het dagoverzicht, "
        f"{len(summary['failed'])} nu mislukt ({summary['failed_total']} mislukt in totaal)."
    )


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
    """Check a routing file: structure, kinds, codes, channel URLs and secrets, and that every
    cluster x alert kind has a recipient besides the fallback."""
    routing = _load(file)
    with session_scope(get_engine()) as session:
        _, directorates = organisation_codes(session)
    gaps = coverage_gaps(routing, directorates)
    if gaps:
        lines = "\n".join(f"  - {gap}" for gap in gaps)
        raise InvalidInput(
            f"Routeringsbestand {file}: {len(gaps)} combinaties van cluster en soort melding "
            f"hebben geen ontvanger; die meldingen gaan naar de vangnetontvanger "
            f"'{routing.fallback.id}' en de verzending eindigt als mislukt:\n{lines}\n"
            "Voeg ontvangers toe (clusters, directorates, kinds)."
        )
    out.print(
        f"Routeringsbestand {file} is in orde: {len(routing.recipients)} ontvangers en "
        f"vangnetontvanger '{routing.fallback.id}'; elk cluster heeft voor elke soort melding "
        "een ontvanger."
    )
    base_url = get_settings().base_url
    if "127.0.0.1" in base_url or "localhost" in base_url:
        err.print(
            f"Let op: IDFLOW_BASE_URL is {base_url}; de links in de meldingen wijzen dan naar "
            "deze computer. Zet IDFLOW_BASE_URL op het adres van de webapp."
        )


def _load(file: Path | None) -> Routing:
    with _routing_errors(), session_scope(get_engine()) as session:
        return load_checked(session, file or get_settings().routing_file)


def _routing_table(routing: Routing) -> Table:
    table = Table("ontvanger", "clusters / directies", "soorten", "kanalen", title=routing.source)
    for r in (*routing.recipients, routing.fallback):
        scope = ", ".join(sorted(r.clusters) + sorted(r.directorates))
        if r is routing.fallback:
            scope = "vangnet: wat geen ander krijgt"
        kinds = "alle" if len(r.kinds) == len(KIND_LABELS) else ", ".join(sorted(r.kinds))
        channels = "\n".join(channel.shown for channel in r.channels)
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
    table = Table("ontvanger", "oorzaak", "pogingen", "fout", title="Mislukte verzendingen")
    for row in rows:
        table.add_row(row["recipient"], row["cause"], str(row["attempts"]), row["error"])
    console.print(table)


DEMO_ROUTING = """# Demo: every alert to one file; see notifications/routing.example.yaml.
recipients:
  - id: po-demo
    name: P&O (demo, alle clusters)
    clusters: ["*"]
    channels: ["file://{target}"]
fallback:
  id: po-vangnet
  name: P&O (demo, vangnet)
  channels: ["file://{target}"]
"""


def demo_alerts(console: Console, folder: Path = Path("meldingen")) -> None:
    """For ``idflow demo``: scan, then dispatch every alert to a file channel in ``folder``."""
    from workflows.alerts import overdue_scan_flow

    target = folder / "po-meldingen.txt"
    routing = folder / "routing.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    routing.write_text(DEMO_ROUTING.format(target=target.resolve()), encoding="utf-8")
    overdue_scan_flow()
    summary = run_dispatch(None, str(routing))
    console.print(
        f"Meldingen aan P&O: {summary['delivered']} verzonden naar {target} "
        f"({summary['messages']} berichten; {summary['waiting_for_digest']} informatieve "
        f"wachten op het dagoverzicht van morgen). Routering: {routing}."
    )
    messages = target.read_text(encoding="utf-8").split(SEPARATOR) if target.exists() else []
    if len(messages) > 1:  # show one as P&O receives it
        first = messages[1].strip()
        console.print(Panel(Text(first), title="Eerste melding in het bestand", expand=False))
