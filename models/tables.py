"""SQLModel tables. No business rules here: the engine in ``procedures`` decides what is written."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Cluster(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)


class Directorate(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    cluster_code: str = Field(foreign_key="cluster.code", max_length=32, index=True)
    # A directorate missing from the last organisation file stays for history but opens nothing.
    active: bool = True


class PolicyVersion(SQLModel, table=True):
    __tablename__ = "policy_version"
    version: int = Field(primary_key=True)
    created_at: datetime = _utc()
    body: dict[str, Any] = Field(sa_type=JSON)


class Procedure(SQLModel, table=True):
    """Current state of one vacancy's procedure; the transition log is the source of truth."""

    vacancy: str = Field(primary_key=True, max_length=64)
    directorate: str = Field(foreign_key="directorate.code", max_length=32, index=True)
    scale: int
    title: str = Field(max_length=300)
    kind: str = Field(max_length=16)
    state: str = Field(max_length=32, index=True)
    round: int = 1
    policy_version: int = Field(foreign_key="policy_version.version")
    outcome_text: str | None = Field(default=None, max_length=16)
    outcome_biws: str | None = Field(default=None, max_length=16)
    outcome_rooney: str | None = Field(default=None, max_length=16)
    outcome_onboarding: str | None = Field(default=None, max_length=16)
    outcome_exit_interview: str | None = Field(default=None, max_length=16)
    employee: str | None = Field(default=None, max_length=64)
    start_date: date | None = None
    leave_date: date | None = None
    opened_at: datetime = _utc()
    state_since: datetime = _utc()
    last_event_at: datetime = _utc()
    due_at: datetime | None = _utc(nullable=True, index=True)
    seq: int = 0
    head_hash: str = Field(max_length=64)
    version: int | None = Field(default=None)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Transition(SQLModel, table=True):
    """One accepted event: append-only, hash-chained per vacancy; ``id`` is the global position."""

    __table_args__ = (
        UniqueConstraint("vacancy", "seq", name="uq_transition_vacancy_seq"),
        Index("ix_transition_vacancy_indicator", "vacancy", "indicator"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vacancy: str = Field(foreign_key="procedure.vacancy", max_length=64)
    seq: int
    event_id: str = Field(max_length=200, unique=True)
    digest: str = Field(max_length=64)
    event: str = Field(max_length=32)
    source: str = Field(max_length=32)
    target: str = Field(max_length=32)
    outcome: str | None = Field(default=None, max_length=16)
    indicator: str | None = Field(default=None, max_length=4)
    quarter: str | None = Field(default=None, max_length=6)
    round: int
    directorate: str = Field(max_length=32)
    policy_version: int
    actor: str = Field(max_length=200)
    origin: str = Field(max_length=16)
    at: datetime = _utc()
    recorded_at: datetime = _utc()
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ExitReason(SQLModel, table=True):
    """Exit-interview reason codes, one row per code, tallied per cluster and year."""

    __tablename__ = "exit_reason"
    transition_id: int = Field(foreign_key="transition.id", primary_key=True)
    code: str = Field(primary_key=True, max_length=32)
    directorate: str = Field(max_length=32)
    year: int = Field(index=True)


class Tally(SQLModel, table=True):
    """Quarterly count per directorate x indicator x outcome, maintained by the roll-up."""

    quarter: str = Field(primary_key=True, max_length=6)
    directorate: str = Field(primary_key=True, max_length=32)
    indicator: str = Field(primary_key=True, max_length=4)
    outcome: str = Field(primary_key=True, max_length=16)
    count: int = 0


class RollupPosition(SQLModel, table=True):
    """The last transition id the roll-up counted; moves in one transaction with the tallies."""

    __tablename__ = "rollup_position"
    name: str = Field(primary_key=True, max_length=32)
    position: int = 0
    updated_at: datetime | None = _utc(nullable=True)


class Outbox(SQLModel, table=True):
    """An alert cause, written in the transaction of the transition that caused it."""

    id: int | None = Field(default=None, primary_key=True)
    cause: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32, index=True)
    immediate: bool
    vacancy: str | None = Field(default=None, max_length=64, index=True)
    directorate: str | None = Field(default=None, max_length=32)
    transition_id: int | None = Field(default=None, foreign_key="transition.id")
    created_at: datetime = _utc()
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # pending -> routed -> delivered | failed; historical (never sent: before go-live)
    status: str = Field(default="pending", max_length=16, index=True)


class QuarterSnapshot(SQLModel, table=True):
    """A closed quarter's report as it was published: written once, never changed.

    ``content`` is the canonical record (tallies, published rows, organisation, policy);
    ``sha256`` is the hash over it that ``idflow audit verify`` recomputes. Reopening a
    quarter keeps this row; the next close adds version + 1.
    """

    __tablename__ = "quarter_snapshot"
    __table_args__ = (UniqueConstraint("quarter", "version", name="uq_quarter_snapshot_version"),)

    id: int | None = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=6)
    version: int
    closed_at: datetime = _utc()
    closed_by: str = Field(max_length=200)
    # The roll-up position the snapshot counts up to: later transitions are corrections.
    position: int
    content: dict[str, Any] = Field(sa_type=JSON)
    sha256: str = Field(max_length=64)


class QuarterReopening(SQLModel, table=True):
    """An admin reopened a closed quarter (one row per snapshot version reopened)."""

    __tablename__ = "quarter_reopening"
    quarter: str = Field(primary_key=True, max_length=6)
    version: int = Field(primary_key=True)
    reopened_at: datetime = _utc()
    reopened_by: str = Field(max_length=200)
    reason: str = Field(max_length=2000)
    # Over the reopening and the hash of the snapshot it reopens.
    sha256: str = Field(max_length=64)


class YearReport(SQLModel, table=True):
    """A year's published report (jaarrapportage): written once, never changed, like a
    closed quarter's snapshot; ``sha256`` is over the canonical JSON of ``content``."""

    __tablename__ = "year_report"

    year: int = Field(primary_key=True)
    published_at: datetime = _utc()
    published_by: str = Field(max_length=200)
    # The roll-up position when it was published (its figures are those published by then).
    position: int
    content: dict[str, Any] = Field(sa_type=JSON)
    sha256: str = Field(max_length=64)


class User(SQLModel, table=True):
    """A person who signs in to the web app; the password is kept only as an argon2 hash.

    An account made at a sign-in through the identity provider (OpenID Connect) is known by
    the provider's issuer and subject, and has no password here.
    """

    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_app_user_oidc"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    # One of recruiter, pno, auditor, admin (see procedures/access.py).
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = _utc()
    oidc_issuer: str | None = Field(default=None, max_length=255)
    oidc_subject: str | None = Field(default=None, max_length=255)


class UserDirectorate(SQLModel, table=True):
    """A directorate whose vacancies a recruiter may see and advance."""

    __tablename__ = "user_directorate"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    directorate: str = Field(foreign_key="directorate.code", primary_key=True, max_length=32)


class ApiToken(SQLModel, table=True):
    """A token for scripts; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=100)
    created_at: datetime = _utc()
    revoked: bool = False
    # Refused from this moment on; shown when the token is made.
    expires_at: datetime = _utc()
    # Recorded at most once a minute, so that reading does not write on every request.
    last_used_at: datetime | None = _utc(nullable=True)
    # A read-only token holds no permission that changes anything (procedures/access.py).
    read_only: bool = False


class WebSession(SQLModel, table=True):
    """A signed-in browser session: the cookie carries a random key, stored only as SHA-256.

    Deleting the row ends the session (sign-out, deactivation, a role, directorate or
    password change); it also ends once idle or too old (the settings' limits).
    """

    __tablename__ = "web_session"
    key_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = _utc()
    # Recorded at most once a minute (see procedures/sessions.py).
    last_seen_at: datetime = _utc()
    # A sign-in through the identity provider keeps its ID token for the provider's sign-out.
    id_token: str | None = Field(default=None, sa_type=Text)


class SignInState(SQLModel, table=True):
    """A sign-in through the identity provider in flight: its state (hashed) and what the
    callback needs (nonce, PKCE verifier). Used once: reading the row deletes it."""

    __tablename__ = "sign_in_state"
    key_hash: str = Field(primary_key=True, max_length=64)
    data: str = Field(sa_type=Text)
    expires_at: datetime = _utc(index=True)


class SignInFailure(SQLModel, table=True):
    """Failed sign-ins in a row, per user name and client address and per address, shared by
    every web process; the key is a SHA-256, so typed user names are not kept."""

    __tablename__ = "sign_in_failure"
    key_hash: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    last_failed_at: datetime = _utc(index=True)
    blocked_until: datetime | None = _utc(nullable=True)


class Delivery(SQLModel, table=True):
    """One alert (outbox row) for one recipient on one of its channels: claimed just before
    it is sent, then recorded; its attempts, backoff and outcome are its own."""

    __table_args__ = (
        UniqueConstraint(
            "outbox_id", "recipient", "channel", name="uq_delivery_outbox_recipient_channel"
        ),
        Index("ix_delivery_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    recipient: str = Field(max_length=100)
    # The channel's short id: a hash of its URL as written in the routing file (before
    # ${...} secrets are filled in), so it reveals nothing and survives a new password.
    channel: str = Field(max_length=16)
    immediate: bool
    # Informational alerts go into the digest of this local day (Europe/Amsterdam, YYYY-MM-DD).
    digest_day: str | None = Field(default=None, max_length=10)
    # pending -> sending (claimed until claimed_until) -> sent | failed
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(nullable=True)
    # The first failure of the current run of failures: retried until IDFLOW_ALERT_RETRY_FOR
    # has passed since then.
    failing_since: datetime | None = _utc(nullable=True)
    claim_token: str | None = Field(default=None, max_length=36)
    claimed_until: datetime | None = _utc(nullable=True)
    # The channel's last answer when it did not accept the message (Dutch, for people).
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
