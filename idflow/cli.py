"""The ``idflow`` command line: parse, call the engine or a flow, print. No business rules."""

import getpass
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer._click import (
    ClickException,
)  # typer bundles its own click: click.ClickException never matches

from idflow import output
from idflow.alerts_cli import alerts_app
from idflow.demo import run_demo
from idflow.quarters_cli import policy_app, quarter_app, year_app
from idflow.textcheck_cli import text_check
from idflow.users_cli import users_app
from models import get_engine, session_scope
from notifications.signal import install as signal_alerts
from procedures.audit import verify_log
from procedures.calendar import last_finished_quarter
from procedures.chart import diagram as chart_diagram
from procedures.engine import apply_event
from procedures.errors import IdflowError, InvalidInput
from procedures.events import parse_event
from procedures.organisation import load_organisation, parse_org_csv
from procedures.queries import list_procedures, procedure_detail
from procedures.report_builder import check_format, check_published, report_quarter
from procedures.report_year import check_year_format, check_year_published
from procedures.setup import initialise
from procedures.snapshots import verify_snapshots, verify_year_reports
from web.serve import serve

app = typer.Typer(help="idflow: I&D-vacatureprocedures vanaf schaal 12.", no_args_is_help=True)
org_app = typer.Typer(help="Organisatie: clusters en directies.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit van het transitielogboek.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(audit_app, name="audit")
app.add_typer(alerts_app, name="alerts")
app.command("text-check")(text_check)
app.command("demo")(run_demo)
app.add_typer(users_app, name="users")
app.add_typer(quarter_app, name="quarter")
app.add_typer(year_app, name="year")
app.add_typer(policy_app, name="policy")
app.command("serve")(serve)
out = Console()
err = Console(stderr=True, soft_wrap=True)


@app.command()
def init() -> None:
    """Create or upgrade the database; load the default policy and sample organisation."""
    engine = get_engine()
    with session_scope(engine) as session:
        for line in initialise(engine, session):
            out.print(f"[green]✓[/] {line}")


@org_app.command("load")
def org_load(
    file: str = typer.Argument(
        ..., help="CSV met kop cluster_code,cluster_name,directorate_code,directorate_name"
    ),
) -> None:
    """Load the organisation (replaces names and clusters; codes are stable)."""
    rows = parse_org_csv(output.read_text(file))
    with session_scope(get_engine()) as session:
        result = load_organisation(session, rows)
    out.print(
        f"Organisatie geladen: {result.clusters} clusters, {result.directorates} directies "
        f"({result.added} nieuw, {result.updated} gewijzigd, {result.deactivated} inactief)."
    )


@org_app.command("show")
def org_show() -> None:
    """List clusters and their directorates."""
    with session_scope(get_engine()) as session:
        out.print(output.organisation_table(session))


@app.command("open")
def open_(
    vacancy: str,
    directorate: str = typer.Option(..., help="Directiecode, bijv. SOC-OJZ"),
    scale: int = typer.Option(..., help="Salarisschaal (vanaf 12)"),
    title: str = typer.Option(..., help="Functietitel"),
    kind: str = typer.Option("external", help="internal of external"),
    event_id: str | None = typer.Option(None, "--id", help="Gebeurtenis-id (standaard: nieuw)"),
    at: str | None = typer.Option(None, help="Tijdstip ISO 8601 (standaard: nu)"),
    actor: str | None = typer.Option(None, help="Wie (standaard: huidige gebruiker)"),
) -> None:
    """Open a vacancy procedure (scale 12 and up)."""
    data = {"directorate": directorate, "scale": scale, "title": title, "kind": kind}
    _send(vacancy, "open", data, event_id, at, actor, None)


@app.command()
def advance(
    vacancy: str,
    event: str = typer.Argument(..., help="Gebeurtenis, bijv. approve_text"),
    field: list[str] = typer.Option(
        [],
        "--field",
        "-f",
        help="Dataveld naam=waarde (waarde als JSON als dat kan, anders tekst); herhaalbaar",
    ),
    data: str | None = typer.Option(None, "--data", help="Alle data als JSON-object"),
    event_id: str | None = typer.Option(None, "--id", help="Gebeurtenis-id (standaard: nieuw)"),
    at: str | None = typer.Option(None, help="Tijdstip ISO 8601 (standaard: nu)"),
    actor: str | None = typer.Option(None, help="Wie (standaard: huidige gebruiker)"),
    expected_version: int | None = typer.Option(None, help="Versie die u zag (conflictcontrole)"),
) -> None:
    """Send any event to a vacancy, with its data as --field options or --data JSON."""
    payload = output.parse_fields(data, field)
    _send(vacancy, event, payload, event_id, at, actor, expected_version)


def _send(
    vacancy: str,
    event: str,
    data: dict[str, Any],
    event_id: str | None,
    at: str | None,
    actor: str | None,
    expected_version: int | None,
) -> None:
    raw = {
        "id": event_id or f"cli-{uuid.uuid4()}",
        "vacancy": vacancy,
        "event": event,
        "actor": actor or getpass.getuser(),
        "data": data,
        "expected_version": expected_version,
    }
    if at is not None:  # left out: now, and the same --id again is a duplicate
        raw["at"] = at
    with session_scope(get_engine()) as session:
        result = apply_event(session, parse_event(raw, interactive=True), origin="cli")
    out.print(output.applied_line(result))


@app.command()
def show(vacancy: str, as_json: bool = typer.Option(False, "--json", help="Als JSON")) -> None:
    """Show a vacancy: state, round, outcomes, history and the events allowed now."""
    with session_scope(get_engine()) as session:
        detail = procedure_detail(session, vacancy)
    if as_json:
        typer.echo(json.dumps(detail, ensure_ascii=False, indent=2))
    else:
        output.print_detail(out, detail)


@app.command("list")
def list_(
    directorate: str | None = typer.Option(None, help="Directiecode"),
    cluster: str | None = typer.Option(None, help="Clustercode"),
    state: str | None = typer.Option(None, help="Toestand, bijv. shortlist"),
    overdue: bool = typer.Option(False, help="Alleen vacatures over de termijn"),
    awaiting_explanation: bool = typer.Option(False, help="Alleen afwijkingen zonder toelichting"),
    limit: int = typer.Option(200, help="Hoogstens zoveel regels"),
    as_json: bool = typer.Option(False, "--json", help="Als JSON"),
) -> None:
    """List vacancies, newest activity first."""
    overdue_at = datetime.now(UTC) if overdue else None
    with session_scope(get_engine()) as session:
        rows = list_procedures(
            session, directorate, cluster, state, overdue_at, awaiting_explanation, limit
        )
    output.print_list(out, rows, as_json)


@app.command("import")
def import_(
    file: str = typer.Argument(..., help="JSON Lines- of CSV-bestand, of - voor standaardinvoer"),
    fmt: str | None = typer.Option(None, "--format", help="jsonl of csv (standaard: extensie)"),
    historical: bool = typer.Option(
        False,
        "--historical",
        help="Geschiedenis van voor de ingebruikname: de meldingen die deze gebeurtenissen "
        "opleveren worden bewaard als historisch en niet verzonden",
    ),
) -> None:
    """Import events; each event atomic; non-zero exit when any line was refused."""
    from procedures.alerts import HISTORICAL
    from workflows.importer import import_events, read_lines

    origin = HISTORICAL if historical else "import"
    with output.progress(err, file) as advance_bar:
        lines = read_lines(file, fmt)
        summary = import_events(get_engine(), lines, origin=origin, on_progress=advance_bar)
    output.print_import_summary(err, summary)
    if summary.refused:
        raise typer.Exit(code=1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the transition log's hash chain, the closed quarters' snapshots and the yearly
    reports; non-zero exit when any is broken."""
    with session_scope(get_engine()) as session:
        checked, breaks = verify_log(session)
        snapshots, snapshot_breaks = verify_snapshots(session)
        years, year_breaks = verify_year_reports(session)
    for item in breaks:
        err.print(f"[red]✗[/] {item.vacancy} #{item.seq}: {item.reason}", markup=False)
    snapshot_breaks += year_breaks
    for bad in snapshot_breaks:
        err.print(f"✗ {bad}", markup=False)
    versions = f"{snapshots} {'versie' if snapshots == 1 else 'versies'} van vastgestelde kwartalen"
    if years:
        versions += f" en {years} {'jaarrapportage' if years == 1 else 'jaarrapportages'}"
    if breaks or snapshot_breaks:
        err.print(
            f"Logboek GEBROKEN: {len(breaks)} fouten in {checked} regels, "
            f"{len(snapshot_breaks)} in {versions}."
        )
        raise typer.Exit(code=1)
    out.print(f"Logboek intact: {checked} transities en {versions} gecontroleerd.")


@audit_app.command("sample")
def audit_sample(
    year: int = typer.Option(..., help="Jaar waarin de procedures zijn geopend (Amsterdamse tijd)"),
    size: int = typer.Option(..., help="Aantal procedures in de steekproef"),
    seed: int = typer.Option(..., help="Startgetal (zelfde getal, zelfde steekproef)"),
    output_path: str | None = typer.Option(
        None, "--output", help="CSV-bestand; ernaast een .xlsx (standaard: reports/steekproef-JAAR)"
    ),
) -> None:
    """Draw the yearly audit sample of procedures, stratified by cluster, as CSV and XLSX."""
    from procedures.sample import draw_sample
    from workflows.report_sample import write_sample

    with session_scope(get_engine()) as session:
        sample = draw_sample(session, year, size, seed)
    csv_path, xlsx_path = write_sample(sample, output_path)
    err.print(
        f"Steekproef van {len(sample.rows)} procedures geschreven naar {csv_path} en {xlsx_path}."
    )


@app.command()
def rollup(
    rebuild: bool = typer.Option(False, help="Alles opnieuw tellen vanaf het logboek"),
) -> None:
    """Run the roll-up flow (new transitions into quarterly tallies)."""
    from workflows.rollup import rollup_flow

    result = rollup_flow(rebuild=rebuild)
    out.print(
        f"Roll-up klaar: {result['transitions']} transities verwerkt "
        f"(positie {result['from']} → {result['to']})."
    )


@app.command()
def report(
    quarter: str | None = typer.Option(None, help="Kwartaal, bijv. 2025Q1 (standaard: vorige)"),
    year: int | None = typer.Option(None, help="De jaarrapportage van dit jaar, bijv. 2025"),
    fmt: str = typer.Option("json", "--format", help="json, csv, xlsx of html"),
    no_suppress: bool = typer.Option(
        False, "--no-suppress", help="Ongemaskeerde aantallen (alleen voor bevoegd intern gebruik)"
    ),
    restated: bool = typer.Option(
        False, "--restated", help="Vastgesteld kwartaal: de cijfers zoals ze nu zijn (intern)"
    ),
    version: int | None = typer.Option(
        None, "--version", help="Een eerdere vastgestelde versie (zie idflow quarter list)"
    ),
    output_path: str | None = typer.Option(
        None, "--output", help="Bestand (standaard: stdout voor json/csv, reports/KWARTAAL.ext)"
    ),
) -> None:
    """Run the report flow (rolling up first): a quarter's kwartaalrapportage, or with --year
    the yearly report; json/csv alone go to stdout. Only closed quarters and published years
    are published; --no-suppress gives the internal figures (intern, niet publiceren)."""
    from workflows.report import TEXT_FORMATS, report_flow

    if year is not None and (quarter or restated or version):
        raise InvalidInput("--year gaat niet samen met --quarter, --restated of --version.")
    if quarter is not None:
        report_quarter(quarter)  # refuse a malformed quarter before Prefect starts a flow run
    if year is None:
        check_format(fmt)
    else:
        check_year_format(fmt)
    if not no_suppress and version is None:  # nothing to publish: say so before the flow run
        with session_scope(get_engine()) as session:
            if year is not None:
                check_year_published(session, year)
            else:
                shown = report_quarter(quarter or last_finished_quarter(datetime.now(UTC)))
                check_published(session, shown, restated)
    result = report_flow(
        quarter=quarter, fmt=fmt, suppress=not no_suppress, output=output_path,
        restated=restated, version=version, year=year,
    )  # fmt: skip
    if (fmt in TEXT_FORMATS or year is not None) and not output_path:
        sys.stdout.write(result)
    else:
        err.print(f"Rapport geschreven naar {output_path or result}.")


@app.command()
def diagram(fmt: str = typer.Option("mermaid", "--format", help="mermaid, md of rst")) -> None:
    """Print the procedure's state chart, drawn from the chart itself."""
    if fmt not in ("mermaid", "md", "rst"):
        raise InvalidInput(f"Onbekend diagramformaat '{fmt}'; kies mermaid, md of rst.")
    typer.echo(chart_diagram(fmt))


def main() -> None:
    """Entry point: domain errors become a Dutch message on stderr and their exit code."""
    from sqlalchemy.exc import InternalError, OperationalError, ProgrammingError

    from models.database import storage_failure
    from procedures.errors import StorageError

    # Prefect's temporary server (flows without PREFECT_API_URL) gets 20 s to start by default,
    # too short on a busy machine; and nothing is reported home. Explicit settings still win.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    signal_alerts()  # a commit that raises alerts tells Prefect (only with PREFECT_API_URL)
    try:
        try:
            code = app(standalone_mode=False)
        except (OperationalError, InternalError, ProgrammingError) as error:  # not the input
            raise StorageError(
                f"{storage_failure(error)}; de lopende wijziging is teruggedraaid. Controleer "
                "IDFLOW_DATABASE_URL en of de database draait en schrijfbaar is, en probeer het "
                "daarna opnieuw."
            ) from None
        except RuntimeError as error:
            if "ephemeral Prefect API server" not in str(error):
                raise
            raise StorageError(
                "De tijdelijke Prefect-server kwam niet op tijd op. Probeer het opnieuw, geef "
                "hem meer tijd met PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (seconden) "
                "of wijs met PREFECT_API_URL een draaiende Prefect-server aan."
            ) from None
    except IdflowError as error:
        err.print(Text.assemble(("Fout:", "red"), f" {error}"), highlight=False)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except ClickException as error:  # usage errors: unknown option, bad value, no command
        err.print(
            f"Fout: ongeldig commando: {error.format_message()}\n"
            "Zie 'idflow --help' of 'idflow COMMANDO --help' voor de mogelijkheden.",
            markup=False,
            highlight=False,
        )
        sys.exit(error.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)
