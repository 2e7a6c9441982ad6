"""``idflow users``: web app accounts (add, list, activate, deactivate) and API tokens (token,
tokens, revoke-token). Passwords are asked, never echoed."""

import typer
from rich.console import Console

from models import get_engine, session_scope
from web.accounts import (
    activate_user,
    create_user,
    deactivate_user,
    find_user,
    issue_token,
    revoke_token,
    token_rows,
    user_rows,
)
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
            state = "" if row["active"] else "\t(gedeactiveerd)"
            out.print(f"{row['username']}\t{row['role']}\t{directorates}{state}")


@users_app.command("token")
def token(username: str, label: str = typer.Option("", help="Waarvoor het token dient")) -> None:
    """Issue an API token for scripts; it is printed once and stored only as a hash."""
    with session_scope(get_engine()) as session:
        user = find_user(session, username)
        assert user.id is not None
        typer.echo(issue_token(session, user.id, label))


@users_app.command("deactivate")
def deactivate(username: str) -> None:
    """Deactivate a user and revoke their API tokens; their sessions end at the next request."""
    with session_scope(get_engine()) as session:
        user, revoked = deactivate_user(session, username)
    out.print(f"Gebruiker {user.username} is gedeactiveerd; {revoked} API-token(s) ingetrokken.")


@users_app.command("activate")
def activate(username: str) -> None:
    """Let a deactivated user sign in again (revoked tokens stay revoked)."""
    with session_scope(get_engine()) as session:
        user = activate_user(session, username)
    out.print(f"Gebruiker {user.username} is weer actief.")


@users_app.command("tokens")
def tokens(username: str) -> None:
    """List a user's API tokens: id, label, created, revoked (never the token itself)."""
    with session_scope(get_engine()) as session:
        rows = token_rows(session, username)
    if not rows:
        out.print(f"Gebruiker {username} heeft geen API-tokens.")
    for row in rows:
        state = "ingetrokken" if row["revoked"] else "geldig"
        out.print(f"{row['id']}\t{row['label'] or '-'}\t{row['created_at']}\t{state}", markup=False)


@users_app.command("revoke-token")
def revoke_token_(token_id: int) -> None:
    """Revoke one API token by its id (see ``idflow users tokens``)."""
    with session_scope(get_engine()) as session:
        row = revoke_token(session, token_id)
    out.print(f"API-token {row['id']} van {row['username']} is ingetrokken.")
