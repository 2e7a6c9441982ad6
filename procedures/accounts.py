"""Users, password hashes (argon2id) and API tokens, as the web app and the CLI manage them.

The rules (roles, user names, passwords, who gets which token, the last admin, what the
identity provider's claims give) are in ``procedures.access``; this module stores what they
allow. Every change that alters what a user may do (deactivation, role or directorates,
password, a sign-in through the provider with other groups) ends the user's sessions.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from models import Directorate, get_settings
from models.tables import ApiToken, User, UserDirectorate
from procedures.access import (
    SCOPED_ROLES,
    USERNAME_RULE,
    Principal,
    RoleGrant,
    check_admin_kept,
    check_password,
    check_role,
    check_token,
    check_username,
    token_read_only,
    writes,
)
from procedures.errors import InvalidInput, RefusedError, RuleViolation
from procedures.sessions import TOUCH_S, end_user_sessions

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so both answers take the same time.

    Made on first use: an argon2 hash costs 64 MiB and tens of milliseconds, which every
    ``idflow`` command importing this module would otherwise pay at start-up."""
    return _HASHER.hash("idflow-dummy-password")


TOKEN_PREFIX = "idf_"
# An account of the identity provider has no password here: no argon2 hash matches this.
NO_PASSWORD = ""


class UnknownAccount(RefusedError):
    """No user with that name, or no API token with that id."""

    http_status = 404


class AccountDisabled(RefusedError):
    """The account exists but is deactivated: no sign-in, also not through the provider."""

    http_status = 403


def create_user(
    session: Session, username: str, password: str, role: str, directorates: list[str]
) -> User:
    """Add a user; refuse bad names, unknown roles and directorates, short passwords."""
    username = check_username(username)
    check_role(role, directorates)
    check_password(password)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise RuleViolation(f"Gebruiker '{username}' bestaat al.")
    _check_directorates(session, directorates)
    user = User(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role,
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    _link(session, user.id, directorates)
    return user


def _check_directorates(session: Session, directorates: list[str]) -> None:
    unknown = [code for code in directorates if session.get(Directorate, code) is None]
    if unknown:
        raise InvalidInput(f"Onbekende directie(s): {', '.join(unknown)}.")


def _link(session: Session, user_id: int, directorates: list[str]) -> None:
    for code in dict.fromkeys(directorates):
        session.add(UserDirectorate(user_id=user_id, directorate=code))
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (same work either way)."""
    user = session.exec(select(User).where(User.username == username.strip())).first()
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
        session.add(user)
    return user


def principal_of(session: Session, user_id: int, read_only: bool = False) -> Principal | None:
    """The principal for an active user id, with the directorates a recruiter may see."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.id is None:
        return None
    scope = None
    if user.role in SCOPED_ROLES:
        rows = session.exec(
            select(UserDirectorate.directorate).where(UserDirectorate.user_id == user.id)
        )
        scope = frozenset(rows)
    # Computed now, not only when the token was made: a role that no longer writes reads.
    read_only = read_only or not writes(user.role)
    return Principal(user.id, user.username, user.role, scope, read_only)


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: shown once, with when it stops working."""

    token: str
    expires_at: datetime
    read_only: bool


def issue_token(
    session: Session,
    user_id: int,
    label: str = "",
    days: int | None = None,
    read_only: bool = False,
    by: Principal | None = None,
) -> IssuedToken:
    """A new API token for a user, valid ``days`` (default: the settings'); only its hash is
    stored. Roles that change nothing get read-only tokens, and so does a read-only token."""
    days = get_settings().token_days if days is None else days
    check_token(label, days)
    user = session.get(User, user_id)
    if user is None:
        raise UnknownAccount(f"Gebruiker {user_id} bestaat niet.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    row = ApiToken(
        user_id=user_id,
        token_hash=token_hash(token),
        label=label,
        created_at=now,
        expires_at=now + timedelta(days=days),
        read_only=token_read_only(user.role, read_only, by),
    )
    session.add(row)
    session.flush()
    return IssuedToken(token, row.expires_at, row.read_only)


def token_principal(session: Session, token: str, now: datetime) -> Principal | None:
    """The principal of a valid token (unrevoked, unexpired, active user), its use recorded."""
    row = session.exec(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash(token), col(ApiToken.revoked).is_(False)
        )
    ).first()
    if row is None or row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=TOUCH_S):
        row.last_used_at = now
        session.add(row)
    return principal_of(session, row.user_id, read_only=row.read_only)


def token_hash(token: str) -> str:
    # Tokens are long random strings, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_user(session: Session, username: str) -> User:
    """The user with this name, or ``UnknownAccount``."""
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None or user.id is None:
        raise UnknownAccount(f"Gebruiker '{username}' bestaat niet.")
    return user


def deactivate_user(session: Session, username: str) -> tuple[User, int]:
    """Deactivate a user, end their sessions and revoke their API tokens: (user, tokens).

    Sign-in, sessions and tokens stop working at once; activating the user again brings
    none of them back. The last active admin stays."""
    user = find_user(session, username)
    check_admin_kept(user.username, user.role, user.active, _active_admins(session))
    user.active = False
    session.add(user)
    assert user.id is not None
    end_user_sessions(session, user.id)
    revoked = revoke_tokens(session, user.id)
    session.flush()
    return user, revoked


def activate_user(session: Session, username: str) -> User:
    """Let a deactivated user sign in again; revoked tokens stay revoked."""
    user = find_user(session, username)
    user.active = True
    session.add(user)
    session.flush()
    return user


def change_user(
    session: Session, username: str, role: str | None, directorates: list[str] | None
) -> User:
    """Give a user another role and/or other directorates; their sessions end."""
    user = find_user(session, username)
    assert user.id is not None
    new_role = role or user.role
    if directorates is None:
        directorates = [] if new_role not in SCOPED_ROLES else _directorates(session, user.id)
    check_role(new_role, directorates)
    if new_role != user.role:
        check_admin_kept(user.username, user.role, user.active, _active_admins(session))
    _check_directorates(session, directorates)
    _assign(session, user, new_role, directorates)
    return user


def _assign(session: Session, user: User, role: str, directorates: list[str]) -> None:
    """Give the user this role and these directorates; their sessions end."""
    assert user.id is not None
    user.role = role
    session.add(user)
    session.execute(delete(UserDirectorate).where(col(UserDirectorate.user_id) == user.id))
    _link(session, user.id, directorates)
    end_user_sessions(session, user.id)


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the identity provider says signed in: its issuer, their subject and user name."""

    issuer: str
    subject: str
    username: str


def provider_sign_in(
    session: Session, who: ProviderIdentity, grant: RoleGrant | None
) -> User | None:
    """The account of a sign-in through the identity provider, made or brought up to date
    with what the provider gives now (just in time). Another role or other directorates
    than last time end the account's older sessions. Without a role (None) the account, if
    there is one, loses its sessions and API tokens, and None is returned."""
    user = session.exec(
        select(User).where(User.oidc_issuer == who.issuer, User.oidc_subject == who.subject)
    ).first()
    if user is not None and not user.active:
        raise AccountDisabled(f"Uw account '{user.username}' is in idflow uitgeschakeld.")
    if grant is None:
        if user is not None and user.id is not None:
            end_user_sessions(session, user.id)
            revoke_tokens(session, user.id)
        return None
    try:
        username = check_username(who.username)
    except InvalidInput:
        raise InvalidInput(
            "De identiteitsprovider gaf geen gebruikersnaam mee die idflow kan gebruiken "
            f"(toegestaan: {USERNAME_RULE})."
        ) from None
    taken = session.exec(select(User).where(User.username == username)).first()
    if taken is not None and taken is not user:
        raise RuleViolation(f"Er is in idflow al een ander account met de naam '{username}'.")
    directorates = list(grant.directorates)
    check_role(grant.role, directorates)
    _check_directorates(session, directorates)
    if user is None:
        user = User(
            username=username,
            password_hash=NO_PASSWORD,
            role=grant.role,
            created_at=_now(),
            oidc_issuer=who.issuer,
            oidc_subject=who.subject,
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        _link(session, user.id, directorates)
        return user
    assert user.id is not None
    user.username = username
    if (user.role, _directorates(session, user.id)) != (grant.role, sorted(directorates)):
        _assign(session, user, grant.role, directorates)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Give a user a new password; their sessions end (API tokens stay valid)."""
    check_password(password)
    user = find_user(session, username)
    assert user.id is not None
    if user.oidc_subject is not None:
        raise RuleViolation(
            f"Gebruiker '{user.username}' meldt zich aan via de identiteitsprovider en heeft "
            "geen wachtwoord in idflow; maak voor aanmelden met een wachtwoord een eigen "
            "(lokaal) account aan."
        )
    user.password_hash = _HASHER.hash(password)
    session.add(user)
    end_user_sessions(session, user.id)
    session.flush()
    return user


def _directorates(session: Session, user_id: int) -> list[str]:
    statement = select(UserDirectorate.directorate).where(UserDirectorate.user_id == user_id)
    return sorted(session.exec(statement))


def _active_admins(session: Session) -> int:
    statement = select(func.count()).where(User.role == "admin", col(User.active).is_(True))
    return int(session.exec(statement).one())


def revoke_tokens(session: Session, user_id: int) -> int:
    """Revoke every unrevoked API token of a user; the number revoked."""
    tokens = session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked).is_(False))
    ).all()
    for row in tokens:
        row.revoked = True
        session.add(row)
    session.flush()
    return len(tokens)


def revoke_token(session: Session, token_id: int) -> dict[str, object]:
    """Revoke one API token by id (revoking it again changes nothing); its row."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UnknownAccount(f"API-token {token_id} bestaat niet.")
    row.revoked = True
    session.add(row)
    session.flush()
    return _token_row(session, row)


def token_rows(session: Session, username: str) -> list[dict[str, object]]:
    """A user's API tokens, oldest first, without the hash."""
    user = find_user(session, username)
    statement = select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id))
    return [_token_row(session, row, user.username) for row in session.exec(statement)]


def _token_row(session: Session, row: ApiToken, username: str | None = None) -> dict[str, object]:
    if username is None:
        owner = session.get(User, row.user_id)
        username = owner.username if owner else ""
    return {
        "id": row.id,
        "username": username,
        "label": row.label,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "read_only": row.read_only,
        "expired": row.expires_at <= _now(),
        "revoked": row.revoked,
    }


def user_rows(session: Session) -> list[dict[str, object]]:
    """Every user with role and directorates (never the hash)."""
    links: dict[int, list[str]] = {}
    for link in session.exec(select(UserDirectorate)):
        links.setdefault(link.user_id, []).append(link.directorate)
    users = session.exec(select(User).order_by(col(User.username)))
    return [_user_row(u, sorted(links.get(u.id or 0, []))) for u in users]


def user_row(session: Session, username: str) -> dict[str, object]:
    """One user with role and directorates, or ``UnknownAccount``."""
    user = find_user(session, username)
    assert user.id is not None
    return _user_row(user, _directorates(session, user.id))


def _user_row(user: User, directorates: list[str]) -> dict[str, object]:
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "directorates": directorates,
        "provider": user.oidc_subject is not None,  # signs in through the identity provider
    }


def _now() -> datetime:
    return datetime.now(UTC)
