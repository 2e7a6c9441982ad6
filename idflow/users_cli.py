"""``idflow users``: web app accounts (add, list, token). Passwords are asked, never echoed."""

import typer
from rich.console import Console

from models import get_engine, session_scope
from procedures.errors import InvalidInput
from web.accounts import create_user, issue_token, user_rows
from web.roles import ROLES

users_app = typer.Typer(help="Gebruikers van de webapp.", no_args_is_help=True)
out = Console()


@users_app.command("add")
def add(
    username: str,
    role: str = typer.Option(..., help=f"Rol: {', '.join(ROLES)}"),
    directorate: list[str] = typer.Option(
        [], "--directorate", help="Directiecode (recruiters; herhaalbaar)"
    ),
    password: str = typer.Option(
        ...,
        prompt="Wachtwoord",
        hide_input=True,
        confirmation_prompt=True,
        envvar="IDFLOW_NEW_USER_PASSWORD",
        help="Gevraagd als het niet is opgegeven (of via IDFLOW_NEW_USER_PASSWORD)",
    ),
) -> None:
    """Create a user; the first one is usually an admin."""
    with session_scope(get_engine()) as session:
        user = create_user(session, username, password, role, directorate)
    out.print(f"Gebruiker {user.username} toegevoegd met rol {user.role}.")


@users_app.command("list")
def list_() -> None:
    """List users with role and directorates."""
    with session_scope(get_engine()) as session:
        for row in user_rows(session):
            directorates = ", ".join(row["directorates"])  # type: ignore[arg-type]
            out.print(f"{row['username']}\t{row['role']}\t{directorates}")


@users_app.command("token")
def token(username: str, label: str = typer.Option("", help="Waarvoor het token dient")) -> None:
    """Issue an API token for scripts; it is printed once and stored only as a hash."""
    from sqlmodel import select

    from models.tables import User

    with session_scope(get_engine()) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None or user.id is None:
            raise InvalidInput(f"Gebruiker '{username}' bestaat niet.")
        typer.echo(issue_token(session, user.id, label))
