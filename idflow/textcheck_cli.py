"""``idflow text-check FILE|-``: the inclusive vacancy-text check for recruiters.

Registered by the main CLI as ``app.command("text-check")(text_check)``. Exit codes:
0 = no exclusionary phrases, 1 = exclusionary phrases found, 2 = the input could not be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from procedures.textcheck import CATEGORY_LABELS, TextCheckResult, check_text


def _read_input(file: str) -> str:
    """Read the vacancy text from ``file`` (``-`` = standard input); exit 2 on failure."""
    if file == "-":
        return sys.stdin.read()
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"Fout: bestand '{file}' bestaat niet."
    except IsADirectoryError:
        message = f"Fout: '{file}' is een map, geen bestand."
    except PermissionError:
        message = f"Fout: geen leesrechten voor bestand '{file}'."
    except UnicodeDecodeError:
        message = f"Fout: bestand '{file}' is geen geldige UTF-8-tekst."
    except OSError as error:
        message = f"Fout: bestand '{file}' kan niet worden gelezen ({error.strerror})."
    Console(stderr=True, highlight=False).print(Text(message))
    raise typer.Exit(code=2)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _findings_table(result: TextCheckResult, text: str) -> Table:
    table = Table(title="Uitsluitende formuleringen", show_lines=True)
    table.add_column("Categorie", no_wrap=True)
    table.add_column("Formulering")
    table.add_column("Positie", no_wrap=True)
    table.add_column("Suggestie")
    for finding in result.findings:
        position = f"regel {_line_of(text, finding.start)}, tekens {finding.start}-{finding.end}"
        table.add_row(
            Text(CATEGORY_LABELS[finding.category]),
            Text(finding.phrase),
            Text(position),
            Text(finding.suggestion),
        )
    return table


def _print_report(result: TextCheckResult, text: str) -> None:
    console = Console(highlight=False)
    console.print(Text(f"Inclusieve vacaturetekstcheck (woordenlijsten {result.wordlist_version})"))
    if result.has_exclusionary:
        console.print(_findings_table(result, text))
    else:
        console.print(Text("Geen uitsluitende formuleringen gevonden."))
    coded = result.gender_coded
    console.print(
        Text(
            f"Gendercodering: {coded.masculine_count} mannelijk gecodeerd "
            f"({', '.join(coded.masculine_words) or '-'}), {coded.feminine_count} vrouwelijk "
            f"gecodeerd ({', '.join(coded.feminine_words) or '-'}); oordeel: {coded.verdict}."
        )
    )
    reading = result.readability
    score = "-" if reading.score is None else f"{reading.score:.1f}".replace(".", ",")
    sentences = "zin" if reading.sentences == 1 else "zinnen"
    console.print(
        Text(
            f"Leesbaarheid: Flesch-Douma {score} ({reading.level}); {reading.words} woorden, "
            f"{reading.sentences} {sentences}, {reading.syllables} lettergrepen. "
            f"{reading.indication}"
        )
    )
    if result.has_exclusionary:
        console.print(
            Text(
                f"Resultaat: {len(result.findings)} uitsluitende formulering(en) gevonden; "
                "pas de tekst aan voordat je hem goedkeurt."
            )
        )


def text_check(
    file: str = typer.Argument(
        ..., help="Bestand met de vacaturetekst (UTF-8), of '-' om van standaardinvoer te lezen."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Toon het resultaat als JSON (zoals het als bewijs wordt bewaard)."
    ),
) -> None:
    """Controleer een vacaturetekst op inclusief taalgebruik en leesbaarheid (B1)."""
    text = _read_input(file)
    result = check_text(text)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, sort_keys=True))
    else:
        _print_report(result, text)
    if result.has_exclusionary:
        raise typer.Exit(code=1)
