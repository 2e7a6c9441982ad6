"""``idflow users``: web app accounts (add, list, change, password, activate, deactivate) and
API tokens (token, tokens, revoke-token). Passwords are asked, never echoed."""

import typer
from rich.console import Console

from models import get_engine, session_scope
from procedures.access import ROLES
from procedures.accounts import (
    activate_user,
    change_user,
    create_user,
    deactivate_user,
    find_user,
    issue_token,
    revoke_token,
    set_password,
    token_rows,
    user_rows,
)

users_app = typer.Typer(help="Gebruikers van de webapp.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _password_option(help_text: str) -> str:
    return typer.Option(
        ...,
        prompt="Wachtwoord",
        hide_input=True,
        confirmation_prompt=True,
        envvar="IDFLOW_NEW_USER_PASSWORD",
        help=help_text,
    )


@users_app.command("add")
def add(
    username: str,
    role: str = typer.Option(..., help=f"Rol: {', '.join(ROLES)}"),
    directorate: list[str] = typer.Option(
        [], "--directorate", help="Directiecode (recruiters; herhaalbaar)"
    ),
    password: str = _password_option(
        "Gevraagd als het niet is opgegeven (of via IDFLOW_NEW_USER_PASSWORD)"
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
            via = "\t(via de identiteitsprovider)" if row["provider"] else ""
            out.print(f"{row['username']}\t{row['role']}\t{directorates}{state}{via}")


@users_app.command("change")
def change(
    username: str,
    role: str | None = typer.Option(None, help=f"Nieuwe rol: {', '.join(ROLES)}"),
    directorate: list[str] = typer.Option(
        [], "--directorate", help="Directiecode (recruiters; herhaalbaar; vervangt de oude)"
    ),
) -> None:
    """Give a user another role or other directorates; their sessions end at once."""
    with session_scope(get_engine()) as session:
        user = change_user(session, username, role, directorate or None)
    out.print(f"Gebruiker {user.username} heeft nu rol {user.role}; sessies zijn beëindigd.")


@users_app.command("password")
def password(
    username: str,
    new_password: str = _password_option("Het nieuwe wachtwoord (of via IDFLOW_NEW_USER_PASSWORD)"),
) -> None:
    """Set a user's password; their sessions end at once (API tokens stay valid)."""
    with session_scope(get_engine()) as session:
        user = set_password(session, username, new_password)
    out.print(f"Wachtwoord van {user.username} is gewijzigd; sessies zijn beëindigd.")


@users_app.command("token")
def token(
    username: str,
    label: str = typer.Option("", help="Waarvoor het token dient (hoogstens 100 tekens)"),
    days: int | None = typer.Option(None, help="Geldigheid in dagen (1 tot 365; standaard 90)"),
    read_only: bool = typer.Option(False, "--read-only", help="Alleen lezen"),
) -> None:
    """Issue an API token for scripts: printed once on stdout, stored only as a hash; its
    expiry goes to stderr. P&O and auditors get read-only tokens."""
    with session_scope(get_engine()) as session:
        user = find_user(session, username)
        assert user.id is not None
        issued = issue_token(session, user.id, label, days, read_only)
    typer.echo(issued.token)
    kind = "alleen lezen" if issued.read_only else "lezen en schrijven"
    err.print(f"Geldig tot {issued.expires_at.isoformat(timespec='minutes')} ({kind}).")


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
    """List a user's API tokens: id, label, created, expires, last used, kind, state."""
    with session_scope(get_engine()) as session:
        rows = token_rows(session, username)
    if not rows:
        out.print(f"Gebruiker {username} heeft geen API-tokens.")
    for row in rows:
        state = "ingetrokken" if row["revoked"] else "verlopen" if row["expired"] else "geldig"
        kind = "alleen lezen" if row["read_only"] else "lezen en schrijven"
        fields = [row["id"], row["label"] or "-", row["created_at"], f"tot {row['expires_at']}"]
        fields += [f"laatst gebruikt {row['last_used_at'] or 'nooit'}", kind, state]
        out.print("\t".join(str(f) for f in fields), markup=False)


@users_app.command("revoke-token")
def revoke_token_(token_id: int) -> None:
    """Revoke one API token by its id (see ``idflow users tokens``)."""
    with session_scope(get_engine()) as session:
        row = revoke_token(session, token_id)
    out.print(f"API-token {row['id']} van {row['username']} is ingetrokken.")
