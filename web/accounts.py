"""Users, password hashes (argon2id), API tokens and the sign-in rate limit."""

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, func, select

from models import Directorate
from models.tables import ApiToken, User, UserDirectorate
from procedures.errors import InvalidInput, RefusedError, RuleViolation
from web.roles import ROLES, SCOPED_ROLES

_HASHER = PasswordHasher()
# Verified against when the user name is unknown, so both answers take the same time.
_DUMMY_HASH = _HASHER.hash("idflow-dummy-password")
TOKEN_PREFIX = "idf_"
MIN_PASSWORD = 12


class UnknownAccount(RefusedError):
    """No user with that name, or no API token with that id."""

    http_status = 404


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the routes see it; ``scope`` None means every directorate."""

    user_id: int
    username: str
    role: str
    scope: frozenset[str] | None

    def sees(self, directorate: str) -> bool:
        return self.scope is None or directorate in self.scope


def create_user(
    session: Session, username: str, password: str, role: str, directorates: list[str]
) -> User:
    """Add a user; refuse unknown roles and directorates, short passwords and duplicates."""
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidInput("Gebruikersnaam: 1 tot 64 tekens.")
    if role not in ROLES:
        raise InvalidInput(f"Onbekende rol '{role}'; kies uit: {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Het wachtwoord moet minstens {MIN_PASSWORD} tekens hebben.")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise RuleViolation(f"Gebruiker '{username}' bestaat al.")
    _check_directorates(session, role, directorates)
    user = User(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    for code in dict.fromkeys(directorates):
        session.add(UserDirectorate(user_id=user.id, directorate=code))
    session.flush()
    return user


def _check_directorates(session: Session, role: str, directorates: list[str]) -> None:
    if role in SCOPED_ROLES and not directorates:
        raise InvalidInput("Een recruiter heeft minstens één directie nodig (--directorate).")
    if role not in SCOPED_ROLES and directorates:
        raise InvalidInput(f"Directies horen alleen bij recruiters, niet bij rol '{role}'.")
    unknown = [code for code in directorates if session.get(Directorate, code) is None]
    if unknown:
        raise InvalidInput(f"Onbekende directie(s): {', '.join(unknown)}.")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (same work either way)."""
    user = session.exec(select(User).where(User.username == username.strip())).first()
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
        session.add(user)
    return user


def principal_of(session: Session, user_id: int) -> Principal | None:
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
    return Principal(user.id, user.username, user.role, scope)


def issue_token(session: Session, user_id: int, label: str = "") -> str:
    """A new API token for a user; only its hash is stored, so show it now or never."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user_id,
            token_hash=token_hash(token),
            label=label[:100],
            created_at=datetime.now(UTC),
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> int | None:
    """The user id of a valid, unrevoked token."""
    row = session.exec(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash(token), col(ApiToken.revoked).is_(False)
        )
    ).first()
    return row.user_id if row else None


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
    """Deactivate a user and revoke all their API tokens: (user, tokens revoked).

    Sign-in, the session cookie (checked at every request) and the tokens stop working at
    once. The last active admin is kept, or nobody could manage users from the web app."""
    user = find_user(session, username)
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise RuleViolation(
            f"Gebruiker '{user.username}' is de laatste actieve beheerder en blijft actief; "
            "maak eerst een andere beheerder aan."
        )
    user.active = False
    session.add(user)
    assert user.id is not None
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
    """A user's API tokens, oldest first: id, label, created, revoked (never the hash)."""
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
        "revoked": row.revoked,
    }


def user_rows(session: Session) -> list[dict[str, object]]:
    """Every user with role and directorates (never the hash)."""
    links: dict[int, list[str]] = {}
    for link in session.exec(select(UserDirectorate)):
        links.setdefault(link.user_id, []).append(link.directorate)
    return [
        {
            "username": u.username,
            "role": u.role,
            "active": u.active,
            "directorates": sorted(links.get(u.id or 0, [])),
        }
        for u in session.exec(select(User).order_by(col(User.username)))
    ]


class LoginLimiter:
    """Counts failed sign-ins per user name and per client address in a sliding window, in
    this process only. An address may fail ``address_factor`` times as often as a name, so
    colleagues behind one proxy do not lock each other out."""

    def __init__(self, max_failures: int, window_s: float, address_factor: int = 10) -> None:
        self.window_s = window_s
        self.limits = {"user": max_failures, "addr": max_failures * address_factor}
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, username: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(
                len(self._recent(key, now)) >= self.limits[key[0]]
                for key in self._keys(username, address)
            )

    def fail(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in self._keys(username, address):
                self._recent(key, now).append(now)

    def reset(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username.strip().lower()), None)

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("user", username.strip().lower()), ("addr", address)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and entries[0] <= now - self.window_s:
            entries.popleft()
        return entries
