"""Presentation for the CLI: Dutch tables and lines, input helpers. No business rules."""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column, Table
from rich.text import Text
from sqlmodel import Session, select

from models import Cluster, Directorate, Procedure
from procedures.engine import Applied
from procedures.errors import InvalidInput
from procedures.policy import AMSTERDAM
from workflows.importer import decode_utf8

PROGRESS_FROM_LINES = 2000


def read_text(path: str) -> str:
    if path == "-":
        return decode_utf8(sys.stdin.buffer.read())
    if not Path(path).is_file():
        raise InvalidInput(f"Bestand '{path}' bestaat niet of is geen bestand.")
    return decode_utf8(Path(path).read_bytes())


def parse_fields(data: str | None, fields: list[str]) -> dict[str, Any]:
    """Event data from ``--data`` JSON and ``--field name=value`` options (JSON values)."""
    payload: dict[str, Any] = {}
    if data:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"--data is geen geldige JSON: {error.msg}.") from None
        if not isinstance(payload, dict):
            raise InvalidInput("--data moet een JSON-object zijn, bijv. '{\"invited\": 4}'.")
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--field '{item}' heeft niet de vorm naam=waarde.")
        try:
            payload[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            payload[name.strip()] = value
    return payload


def applied_line(result: Applied) -> str:
    outcome = f", uitkomst {result.outcome}" if result.outcome else ""
    if result.status == "duplicate":
        return f"Al verwerkt (dubbel): {result.vacancy} #{result.seq} {result.event}."
    return (
        f"Verwerkt: {result.vacancy} #{result.seq} {result.event} → {result.state}"
        f"{outcome} (ronde {result.round}, versie {result.version})."
    )


def print_detail(console: Console, detail: dict[str, Any]) -> None:
    # Titles, actors and data are user text: never read them as Rich markup.
    console.print(
        Text.assemble(
            (detail["vacancy"], "bold"),
            f" {detail['title']} (schaal {detail['scale']}, {detail['directorate']}, "
            f"{detail['kind']})",
        )
    )
    console.print(
        f"Toestand: [bold]{detail['state']}[/] ({detail['state_label']}), "
        f"ronde {detail['round']}, versie {detail['version']}, "
        f"beleid v{detail['policy_version']}"
    )
    if detail["due_at"]:
        console.print(f"Termijn verloopt: {detail['due_at']}")
    outcomes = ", ".join(f"{k}: {v or '-'}" for k, v in detail["outcomes"].items())
    console.print(f"Uitkomsten: {outcomes}")
    console.print(f"Nu toegestaan: {', '.join(detail['allowed_events']) or 'niets'}")
    table = Table(
        "#", "tijdstip", "vastgelegd", "gebeurtenis", "van → naar", "uitkomst", "wie", "data"
    )
    for row in detail["history"]:
        table.add_row(
            str(row["seq"]),
            row["at"],
            row["recorded_at"],
            row["event"],
            f"{row['source']} → {row['target']}",
            row["outcome"] or "",
            Text(row["actor"]),
            Text(json.dumps(row["data"], ensure_ascii=False)),
        )
    console.print(table)


def _longest(rows: list[Procedure]) -> str:
    return max((row.vacancy for row in rows), key=len, default="vacature")


def print_list(console: Console, rows: list[Procedure], as_json: bool) -> None:
    if as_json:
        items = [row.model_dump(mode="json", exclude={"head_hash"}) for row in rows]
        console.print_json(json.dumps(items, ensure_ascii=False))
        return
    table = Table("directie", "schaal", "titel", "toestand", "ronde", "laatst")
    # The vacancy number is what `idflow show` needs: never cut it off, however narrow.
    table.columns.insert(0, Column("vacature", no_wrap=True, min_width=len(_longest(rows))))
    for row in rows:
        table.add_row(
            Text(row.vacancy),
            row.directorate,
            str(row.scale),
            Text(row.title),
            row.state,
            str(row.round),
            row.last_event_at.astimezone(AMSTERDAM).date().isoformat(),  # the local day
        )
    console.print(table)
    console.print(f"{len(rows)} vacatures.")


def organisation_table(session: Session) -> Table:
    table = Table("cluster", "directie", "naam", "actief")
    names = {c.code: c.name for c in session.exec(select(Cluster))}
    for d in session.exec(select(Directorate).order_by(Directorate.cluster_code, Directorate.code)):
        table.add_row(
            f"{d.cluster_code} {names.get(d.cluster_code, '')}",
            d.code,
            d.name,
            "ja" if d.active else "nee",
        )
    return table


@contextmanager
def progress(console: Console, path: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on standard error for long import files."""
    lines = _count_lines(path)
    if lines < PROGRESS_FROM_LINES:
        yield None
        return
    columns = (TextColumn("importeren"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("import", total=lines)
        yield lambda n: bar.advance(task, n)


def _count_lines(path: str) -> int:
    if path == "-" or not Path(path).is_file():
        return 0
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def print_import_summary(console: Console, summary: Any) -> None:
    console.print(
        f"Import: {summary.applied} verwerkt, {summary.duplicate} dubbel, "
        f"{len(summary.refused)} geweigerd.",
        highlight=False,
    )
    for number, reason in summary.refused:
        console.print(f"  regel {number}: {reason}", highlight=False, markup=False)
