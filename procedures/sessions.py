"""Who is signed in: browser sessions and failed sign-ins, kept in the database.

Sessions are rows, so that ending one is deleting it: sign-out ends this session;
deactivation, a role or directorate change and a password change end every session of the
user. A session also ends after ``idle_s`` without a request and ``max_age_s`` after sign-in.
The last request is recorded at most once a minute (or every half idle time, if shorter), so
the idle limit is exact to that.

Failed sign-ins are counted per (user name, client address) and per address, in the
database, so that every ``idflow serve`` process sees the same counts. A wrong password
blocks only its own name and address pair (and, ten times as often, that address), never
the user at another address. The wait doubles per failure (``sign_in_backoff_s``).

A sign-in through the identity provider in flight is a row too, under its ``state``: the
callback takes it, and taking deletes it, so the same callback cannot be used twice, on any
process.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, delete, or_, text
from sqlmodel import Session, col, select

from models.tables import SignInFailure, SignInState, WebSession
from procedures.access import sign_in_backoff_s

TOUCH_S = 60
SESSION: Table = WebSession.__table__  # type: ignore[attr-defined]
FAILURE: Table = SignInFailure.__table__  # type: ignore[attr-defined]
STATE: Table = SignInState.__table__  # type: ignore[attr-defined]
# Both databases share this syntax; a first failure of two processes at once inserts once.
_FIRST_FAILURE = text(
    "INSERT INTO sign_in_failure (key_hash, failures, last_failed_at) "
    "VALUES (:key, 0, :now) ON CONFLICT DO NOTHING"
).bindparams(bindparam("now", type_=FAILURE.c.last_failed_at.type))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_session(
    session: Session, user_id: int, now: datetime, id_token: str | None = None
) -> str:
    """A new session for the user; the key goes into the cookie and is stored hashed. A
    sign-in through the identity provider keeps the ID token, for the provider's sign-out."""
    key = secrets.token_urlsafe(32)
    row = WebSession(
        key_hash=digest(key), user_id=user_id, created_at=now, last_seen_at=now, id_token=id_token
    )
    session.add(row)
    session.flush()
    return key


def session_user(
    session: Session, key: str, now: datetime, idle_s: float, max_age_s: float
) -> int | None:
    """The user id of a live session (its last request recorded), else None (and it ends)."""
    row = session.get(WebSession, digest(key))
    if row is None:
        return None
    idle = now - row.last_seen_at
    if idle > timedelta(seconds=idle_s) or now - row.created_at > timedelta(seconds=max_age_s):
        session.delete(row)
        session.flush()
        return None
    if idle >= timedelta(seconds=min(TOUCH_S, idle_s / 2)):
        row.last_seen_at = now
        session.add(row)
    return row.user_id


def end_session(session: Session, key: str) -> str | None:
    """End this session; the ID token it kept (a sign-in through the provider), if any."""
    ended = session.execute(
        delete(SESSION).where(SESSION.c.key_hash == digest(key)).returning(SESSION.c.id_token)
    )
    return ended.scalar()


def end_user_sessions(session: Session, user_id: int) -> int:
    """End every session of the user; how many there were."""
    result = session.execute(delete(SESSION).where(SESSION.c.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_old_sessions(session: Session, now: datetime, idle_s: float, max_age_s: float) -> None:
    """Remove sessions that can no longer be used (run at sign-in; cheap, both indexed)."""
    session.execute(
        delete(SESSION).where(
            or_(
                SESSION.c.last_seen_at < now - timedelta(seconds=idle_s),
                SESSION.c.created_at < now - timedelta(seconds=max_age_s),
            )
        )
    )


@dataclass(frozen=True)
class Backoff:
    """How failed sign-ins are counted: free failures, first wait, longest wait, quiet time."""

    free: int
    base_s: float
    cap_s: float
    forget_s: float  # failures are forgotten after this long without one (plus the wait)
    address_factor: int = 10  # an address may fail this many times as often as a name

    def wait_s(self, failures: int, scope: str) -> float:
        free = self.free * (self.address_factor if scope == "addr" else 1)
        return sign_in_backoff_s(failures, free, self.base_s, self.cap_s)


def _keys(username: str, address: str) -> dict[str, str]:
    name = username.strip().casefold()
    return {"pair": digest(f"pair\n{name}\n{address}"), "addr": digest(f"addr\n{address}")}


def blocked_for(session: Session, username: str, address: str, now: datetime) -> float:
    """Seconds until this name may sign in again from this address (0: now)."""
    keys = list(_keys(username, address).values())
    rows = session.exec(select(SignInFailure).where(col(SignInFailure.key_hash).in_(keys)))
    until = max((row.blocked_until for row in rows if row.blocked_until), default=None)
    return max(0.0, (until - now).total_seconds()) if until else 0.0


def record_failure(
    session: Session, username: str, address: str, now: datetime, backoff: Backoff
) -> None:
    """Count a failed sign-in for the name at this address and for the address."""
    quiet = now - timedelta(seconds=backoff.forget_s + backoff.cap_s)
    session.execute(delete(FAILURE).where(FAILURE.c.last_failed_at < quiet))
    for scope, key in _keys(username, address).items():
        session.execute(_FIRST_FAILURE, {"key": key, "now": now})
        # Locked and read afresh: another process may have counted since blocked_for read it.
        locked = select(SignInFailure).where(SignInFailure.key_hash == key).with_for_update()
        row = session.exec(locked.execution_options(populate_existing=True)).one()
        waited = backoff.wait_s(row.failures, scope)
        if now - row.last_failed_at > timedelta(seconds=backoff.forget_s + waited):
            row.failures = 0  # quiet for long enough: start counting again
        row.failures += 1
        row.last_failed_at = now
        wait = backoff.wait_s(row.failures, scope)
        row.blocked_until = now + timedelta(seconds=wait) if wait else None
        session.add(row)
    session.flush()


def clear_failures(session: Session, username: str, address: str) -> None:
    """A right password: this name at this address starts afresh (the address count stays)."""
    session.execute(delete(FAILURE).where(FAILURE.c.key_hash == _keys(username, address)["pair"]))


# -- sign-ins through the identity provider in flight ----------------------------------------


def keep_sign_in_state(
    session: Session, key: str, data: str, now: datetime, expires_in_s: float
) -> None:
    """Keep what the callback of a sign-in needs, under its state, until it expires."""
    session.execute(delete(STATE).where(STATE.c.expires_at < now))
    session.execute(delete(STATE).where(STATE.c.key_hash == digest(key)))
    expires_at = now + timedelta(seconds=expires_in_s)
    session.add(SignInState(key_hash=digest(key), data=data, expires_at=expires_at))
    session.flush()


def take_sign_in_state(session: Session, key: str, now: datetime) -> str | None:
    """What was kept under this state, once: reading deletes it, so a replay finds nothing
    (two replays at once: one of them gets it)."""
    taken = session.execute(
        delete(STATE)
        .where(STATE.c.key_hash == digest(key), STATE.c.expires_at >= now)
        .returning(STATE.c.data)
    )
    return taken.scalar()


def forget_sign_in_state(session: Session, key: str) -> None:
    session.execute(delete(STATE).where(STATE.c.key_hash == digest(key)))
