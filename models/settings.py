"""The one settings object: every knob comes from the environment (prefix ``IDFLOW_``).

It lives at the bottom of the import graph so that every layer can read it without
importing upwards.
"""

from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Validated configuration for idflow."""

    model_config = SettingsConfigDict(env_prefix="IDFLOW_", extra="ignore")

    database_url: str = "sqlite:///idflow.db"
    # Base URL of the web app; alerts link to a vacancy's page under it.
    base_url: str = "http://127.0.0.1:8000"
    # Where report files go when no --output is given.
    report_dir: Path = Path("reports")
    # Events per database commit during an import: read, decided and written as one batch.
    import_batch_size: int = 500
    # SQLite waits this long for a lock before it reports the database as busy.
    sqlite_busy_timeout_ms: int = 30_000
    echo_sql: bool = False

    # -- web app (idflow serve) ------------------------------------------------------------
    # Signs the session cookie. Unset: a random key per process (everyone signs in again
    # after a restart, and several workers would not share sessions): set it in production.
    session_secret: SecretStr | None = None
    # Send the session cookie only over HTTPS; set IDFLOW_COOKIE_SECURE=false for local http.
    cookie_secure: bool = True
    # A session ends this long after sign-in, and after this long without a request.
    session_max_age_s: int = 8 * 3600
    session_idle_s: int = 30 * 60
    # Failed sign-ins in a row that cost nothing per user name and client address (an
    # address alone may fail ten times as often); from then on sign-in from there waits
    # login_backoff_base_s, doubling per failure up to login_backoff_max_s. The count starts
    # again after login_window_s without a failure (plus the last wait). Kept in the database.
    login_max_failures: int = 5
    login_window_s: int = 300
    login_backoff_base_s: float = 30
    login_backoff_max_s: float = 15 * 60
    # API tokens are valid this many days unless asked otherwise (1 to 365).
    token_days: int = 90
    # Largest import upload accepted by the web app.
    upload_max_bytes: int = 20_000_000
    # Largest other request body (JSON API, forms): larger ones are refused (413) unread.
    request_max_bytes: int = 1_000_000
    # Which sign-in the pages offer: local (user name and password), oidc (the identity
    # provider) or both (the provider, and local accounts for a break-glass admin).
    auth: str = "local"
    # OpenID Connect: the provider's issuer URL (discovery), this app's client id and secret
    # (none: a public client, PKCE only), the scopes asked for, the claim that names the user.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = "preferred_username"
    # The role and directorates come from these claims, or, when the mapping file is set,
    # from the user's groups through that file (procedures/access.py, README).
    oidc_role_claim: str = "idflow_role"
    oidc_directorates_claim: str = "idflow_directorates"
    oidc_group_mapping: Path | None = None
    # Clocks of idflow and the provider may differ this much (ID token exp, iat, nbf).
    oidc_clock_skew_s: int = 120
    # Shown on the sign-in button and on the page for a user without a role.
    oidc_provider_label: str = "uw organisatieaccount"
    oidc_contact: str = "de functioneel beheerder van idflow"

    # -- alerts to P&O (idflow alerts) --------------------------------------------------------
    # Who hears what: recipients per cluster/directorate and alert kind, with their channels.
    routing_file: Path = Path("alert-routing.yaml")
    # A delivery that keeps failing for a passing reason (server down, timeout, 5xx, 408,
    # 429, SMTP 4xx) is retried this long after its first failure, then marked failed and
    # reported. ISO 8601 (P3D); long enough that a relay down over a weekend loses nothing.
    alert_retry_for: timedelta = timedelta(days=3)
    # Retry backoff: base * 2^(attempts-1) seconds, capped at the maximum.
    alert_retry_base_s: float = 60
    alert_retry_max_s: float = 6 * 3600
    # A claimed delivery belongs to its dispatcher this long; longer than any channel timeout.
    alert_lease_s: int = 300
    # A day's digest goes out this long after the day ends (late commits of that day first).
    alert_digest_grace_s: int = 600
    # Go-live: alert causes about facts before this moment (without an offset: Amsterdam
    # time) are kept as "not sent: historical" instead of being sent. Unset: none are.
    alerts_from: datetime | None = None
    # Prefect's own setting, read here only to decide whether a commit that raised alerts
    # signals the alerts-dispatch deployment (unset: local use, nothing is signalled).
    prefect_api_url: str | None = Field(default=None, validation_alias="PREFECT_API_URL")

    @field_validator("alerts_from")
    @classmethod
    def _amsterdam_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=ZoneInfo("Europe/Amsterdam"))


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
