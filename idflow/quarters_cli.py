"""``idflow quarter`` (close, reopen, list), ``idflow year publish`` and ``idflow policy``
(show, add)."""

import getpass
import json

import typer
from rich.console import Console

from idflow import output
from models import get_engine, session_scope
from procedures.errors import InvalidInput
from procedures.quarters import close_quarter, quarter_overview, reopen_quarter
from procedures.report_year import publish_year
from procedures.setup import add_policy, parse_policy, policy_json
from procedures.snapshots import moment_text

quarter_app = typer.Typer(
    help="Kwartalen vaststellen: een vastgestelde kwartaalrapportage verandert niet meer.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="Beleidsversies bekijken en toevoegen.", no_args_is_help=True)
year_app = typer.Typer(
    help="Jaarrapportages: gepubliceerd als de vier kwartalen vastgesteld zijn.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)  # a hash or a reason is never cut or broken
ACTOR_HELP = "Wie (standaard: huidige gebruiker)"


@quarter_app.command("close")
def close(
    quarter: str = typer.Argument(..., help="Kwartaal, bijv. 2025Q1"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
) -> None:
    """Close a quarter: roll up and freeze its report in one snapshot (P&O or admin)."""
    with session_scope(get_engine()) as session:
        done = close_quarter(session, quarter, actor or getpass.getuser())
    row = done.snapshot.row
    if not done.created:
        out.print(
            f"Kwartaal {row.quarter} was al vastgesteld (versie {row.version}, "
            f"{moment_text(row.closed_at)} door {row.closed_by}); er is niets veranderd.",
            markup=False,
        )
        return
    out.print(
        f"Kwartaal {row.quarter} vastgesteld: versie {row.version}, SHA-256 {row.sha256}.",
        markup=False,
    )


@quarter_app.command("reopen")
def reopen(
    quarter: str = typer.Argument(..., help="Kwartaal, bijv. 2025Q1"),
    reason: str = typer.Option(..., "--reason", help="Waarom (komt in het logboek)"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
) -> None:
    """Reopen a closed quarter (admin); every snapshot version is kept."""
    with session_scope(get_engine()) as session:
        row = reopen_quarter(session, quarter, actor or getpass.getuser(), reason)
    out.print(
        f"Kwartaal {row.quarter} heropend (versie {row.version} blijft bewaard); de volgende "
        f"vaststelling maakt versie {row.version + 1}.",
        markup=False,
    )


@quarter_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Als JSON")) -> None:
    """Every quarter with its status, and each snapshot version: when, by whom, hash."""
    with session_scope(get_engine()) as session:
        overview = quarter_overview(session)
    if as_json:
        typer.echo(json.dumps(overview, ensure_ascii=False, indent=2))
        return
    for item in overview:
        if not item["versions"]:
            out.print(f"{item['quarter']}\t{item['status']}", markup=False)
        for number, v in enumerate(item["versions"], 1):
            latest = number == len(item["versions"])
            status = item["status"] if latest else "vorige versie"
            line = (
                f"{item['quarter']}\t{status}\tversie {v['version']}\t"
                f"vastgesteld {_short(v['closed_at'])} door {v['closed_by']}\tSHA-256 {v['sha256']}"
            )
            if v["reopened_at"]:
                line += (
                    f"\theropend {_short(v['reopened_at'])} door {v['reopened_by']}: {v['reason']}"
                )
            out.print(line, markup=False, highlight=False)


@year_app.command("publish")
def year_publish(
    year: int = typer.Argument(..., help="Jaar, bijv. 2025"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
) -> None:
    """Publish the yearly report of a year whose four quarters are closed (once)."""
    with session_scope(get_engine()) as session:
        done = publish_year(session, year, actor or getpass.getuser())
    row = done.row
    if not done.created:
        out.print(
            f"De jaarrapportage {row.year} was al gepubliceerd ({moment_text(row.published_at)} "
            f"door {row.published_by}); er is niets veranderd.",
            markup=False,
        )
        return
    out.print(f"Jaarrapportage {row.year} gepubliceerd: SHA-256 {row.sha256}.", markup=False)


def _short(moment: str | None) -> str:
    return (moment or "")[:16].replace("T", " ")


@policy_app.command("show")
def policy_show(
    version: int | None = typer.Option(None, help="Versie (standaard: de huidige)"),
) -> None:
    """Print a policy version as JSON (the shape `idflow policy add` reads)."""
    with session_scope(get_engine()) as session:
        typer.echo(json.dumps(policy_json(session, version), ensure_ascii=False, indent=2))


@policy_app.command("add")
def policy_add(
    file: str = typer.Argument(..., help="JSON-bestand, zoals policy show toont"),
) -> None:
    """Add a policy version; it applies to procedures opened from now on."""
    try:
        body = json.loads(output.read_text(file))
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"Het beleidsbestand is geen geldige JSON (regel {error.lineno}): {error.msg}."
        ) from None
    policy = parse_policy(body)
    with session_scope(get_engine()) as session:
        add_policy(session, policy)
    out.print(
        f"Beleidsversie {policy.version} toegevoegd; zij geldt voor vacatures die vanaf nu "
        "worden geopend.",
        markup=False,
    )
