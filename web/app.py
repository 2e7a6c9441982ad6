"""The FastAPI application: pages, JSON API, signed session cookie, error answers."""

import secrets
from datetime import datetime
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from models import Settings, get_settings
from notifications.signal import install as signal_alerts
from procedures.alerts import KIND_LABELS
from procedures.chart import STATE_LABELS
from procedures.policy import AMSTERDAM
from web import api, oidc, pages, problems, quarter_pages, quarters_api
from web.guard import BodyLimit, SecurityHeaders

# The delivery status of an alert cause (outbox row), as notifications/ sets it.
ALERT_STATUS_LABELS = {
    "pending": "nog niet verdeeld",
    "routed": "wordt verzonden",
    "unrouted": "geen ontvanger",
    "historical": "niet verzonden: historisch",
    "delivered": "verzonden",
    "failed": "verzenden mislukt",
}
DESCRIPTION = (
    "JSON-API van idflow: vacatureprocedures openen en doorzetten, bekijken, importeren, "
    "kwartaalrapportages en meldingen. Aanmelden met een API-token "
    "(`Authorization: Bearer idf_...`, aan te maken met `idflow users token`) of met de "
    "sessie van de webpagina's (dan met de kop `X-CSRF-Token`). Fouten komen als "
    "probleemdetails (RFC 9457, `application/problem+json`) met een Nederlandse uitleg."
)


def create_app(database_url: str | None = None, settings: Settings | None = None) -> FastAPI:
    """The web app on ``database_url`` (default: the settings' database)."""
    settings = settings or get_settings()
    signal_alerts()  # a commit that raises alerts tells Prefect (only with PREFECT_API_URL)
    # Swagger UI and ReDoc load their scripts from a CDN; the app must work offline, so the
    # API is documented by /openapi.json alone (open it in any OpenAPI viewer).
    app = FastAPI(
        title="idflow",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database_url = database_url or settings.database_url
    package = resources.files("web")
    app.state.templates = _templates(str(package.joinpath("templates")))
    secret = settings.session_secret
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
        session_cookie="idflow_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.add_middleware(BodyLimit)
    # Added last, so outermost: every answer gets the headers, error answers too.
    app.add_middleware(SecurityHeaders, settings=settings)
    app.mount("/static", StaticFiles(directory=str(package.joinpath("static"))), name="static")
    app.include_router(api.router)
    app.include_router(quarters_api.router)
    app.include_router(pages.router)
    app.include_router(quarter_pages.router)
    oidc.install(app, settings)
    problems.install(app)
    return app


def _templates(directory: str) -> Jinja2Templates:
    templates = Jinja2Templates(directory=directory)
    templates.env.globals |= {
        "state_labels": STATE_LABELS,
        "alert_labels": KIND_LABELS,
        "alert_status_labels": ALERT_STATUS_LABELS,
    }
    templates.env.filters["localdate"] = _local_date
    return templates


def _local_date(moment: datetime | None) -> str:
    return moment.astimezone(AMSTERDAM).strftime("%d-%m-%Y") if moment else ""
