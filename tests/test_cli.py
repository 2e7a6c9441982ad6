"""The command line as a user meets it: usage errors, user text, organisation files."""

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from idflow.cli import app
from models import Directorate

IDFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "idflow")
HEADER = "cluster_code,cluster_name,directorate_code,directorate_name\n"


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        (["nosuchcommand"], "No such command"),
        (["list", "--bogus"], "No such option: --bogus"),
        (["open", "V1", "--directorate", "SOC-OJZ", "--scale", "abc", "--title", "T"], "--scale"),
    ],
)
def test_a_usage_error_exits_2_with_a_dutch_hint_and_no_traceback(
    args: list[str], detail: str, tmp_path: Path
) -> None:
    done = subprocess.run([IDFLOW, *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "Fout: ongeldig commando" in done.stderr and detail in done.stderr
    assert "idflow --help" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "idflow.db").exists()  # nothing was made


def test_user_text_is_shown_as_typed_never_read_as_markup(engine: Engine) -> None:
    runner = CliRunner()
    title = "Adviseur [/] data [bold]x[/bold]"
    opened = runner.invoke(
        app, ["open", "VAC-MK-1", "--directorate", "SOC-OJZ", "--scale", "12", "--title", title]
    )
    assert opened.exit_code == 0, opened.output
    shown = runner.invoke(app, ["show", "VAC-MK-1"])
    assert shown.exit_code == 0, shown.output
    assert title in shown.output
    listed = runner.invoke(app, ["list", "--directorate", "SOC-OJZ"])
    assert listed.exit_code == 0, listed.output
    assert "VAC-MK-1" in listed.output and "[/]" in listed.output


def test_an_organisation_file_with_only_its_header_is_refused_and_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "org.csv"
    path.write_text(HEADER, encoding="utf-8")
    result = CliRunner().invoke(app, ["org", "load", str(path)])
    assert result.exit_code != 0
    assert "bevat geen directies" in str(result.exception)
    with Session(engine) as session:
        active = session.exec(select(Directorate).where(col(Directorate.active))).all()
    assert len(active) > 40


def test_an_organisation_file_with_comments_and_a_quoted_comma_loads() -> None:
    from procedures.organisation import parse_org_csv

    text = f'# voorbeeld\n{HEADER}SOC,Sociaal,SOC-OJZ,"Onderwijs, Jeugd"\n\nSOC,Sociaal,SOC-X,X\n'
    rows = parse_org_csv(text)
    assert [(r.directorate_code, r.directorate_name) for r in rows] == [
        ("SOC-OJZ", "Onderwijs, Jeugd"),
        ("SOC-X", "X"),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('SOC,Sociaal,SOC-OJZ,"Onderwijs,\nJeugd"', "directorate_name moet één regel tekst zijn"),
        ('SOC,"Soci\taal",SOC-OJZ,Jeugd', "cluster_name moet één regel tekst zijn"),
        ("SOC,Sociaal,SOC-OJZ,Jeugd\x00", "directorate_name moet één regel tekst zijn"),
        ("SOC,Sociaal,SOC-OJZ," + "j" * 201, "directorate_name is te lang (hoogstens 200 tekens)"),
    ],
)
def test_names_with_line_breaks_control_characters_or_over_the_limit_are_refused(
    line: str, problem: str
) -> None:
    from procedures.errors import InvalidInput
    from procedures.organisation import parse_org_csv

    with pytest.raises(InvalidInput, match=re.escape(problem)):
        parse_org_csv(f"{HEADER}{line}\n")
