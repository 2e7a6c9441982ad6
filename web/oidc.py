"""Sign-in through the identity provider (OpenID Connect), with Authlib's Starlette client.

``/login/oidc`` sends the browser to the provider: the authorization code flow with PKCE
(S256), a ``state`` and a ``nonce``; the provider's endpoints come from its discovery
document at ``IDFLOW_OIDC_ISSUER``. ``/login/oidc/callback`` takes the browser back: Authlib
checks the state against this browser's session, redeems the code and validates the ID
token: its signature against the provider's JWKS (fetched again for an unknown key id, which
is how a key rotation arrives), ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce``, with a
clock-skew allowance of ``IDFLOW_OIDC_CLOCK_SKEW_S``. What the callback needs is kept in the
database under the state, and taking it deletes it (:class:`StateStore`), so a replayed
callback is refused on every ``idflow serve`` process.

What the claims give is decided in ``procedures.access``; the account is made or brought up to
date in ``procedures.accounts``. Sign-out ends the idflow session and then sends the browser
to the provider's ``end_session_endpoint``, when it has one (RP-initiated logout).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import yaml
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.integrations.starlette_client.apps import StarletteOAuth2App
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidKeyIdError, JoseError
from starlette.concurrency import run_in_threadpool

from models import Settings, get_engine, session_scope
from procedures.access import (
    GroupMapping,
    NoRole,
    parse_group_mapping,
    provider_role,
    sign_in_methods,
)
from procedures.accounts import ProviderIdentity, provider_sign_in
from procedures.errors import IdflowError, InvalidInput
from procedures.sessions import (
    forget_old_sessions,
    forget_sign_in_state,
    keep_sign_in_state,
    start_session,
    take_sign_in_state,
)
from web.deps import begin_session, csrf_token, local_path, unit

log = logging.getLogger("idflow.web")
router = APIRouter(include_in_schema=False)
CALLBACK = "/login/oidc/callback"
SIGNED_OUT = "/login"
TIMEOUT_S = 10
# A sign-in at the provider must be finished within this time (Authlib would allow an hour);
# it bounds the rows that started and abandoned sign-ins leave in the database.
STATE_TTL_S = 15 * 60
# Why a callback is refused, in the user's words (the technical cause goes to the log).
REPLAYED = (
    "Deze aanmelding is al gebruikt, verlopen of in een andere browser begonnen. Meld u "
    "opnieuw aan."
)
EXPIRED = (
    "Het bewijs van uw aanmelding dat de identiteitsprovider meestuurde, was al verlopen "
    "(lopen de klokken van idflow en de provider gelijk?)."
)
FORGED = (
    "Het bewijs van uw aanmelding is niet ondertekend door de identiteitsprovider van idflow; "
    "het is geweigerd."
)
NOT_FOR_US = "Het bewijs van uw aanmelding was niet voor idflow of niet voor deze aanmelding."
PROVIDER_REFUSED = "De identiteitsprovider heeft de aanmelding niet afgerond."
UNREACHABLE = "De identiteitsprovider is niet bereikbaar of gaf een onverwacht antwoord."


class Refused(Exception):
    """A sign-in through the provider that is not accepted: a Dutch reason and the cause."""

    def __init__(self, reason: str, cause: object, status: int = 401) -> None:
        super().__init__(reason)
        self.cause, self.status = cause, status


class StateStore:
    """Authlib's cache for sign-ins in flight, kept in the database that every process
    shares; ``get`` takes the entry (it is deleted), so each state works once."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def _run(self, action: Any, *args: Any) -> Any:
        with session_scope(get_engine(self.database_url)) as session:
            return action(session, *args)

    async def get(self, key: str) -> str | None:
        return await run_in_threadpool(self._run, take_sign_in_state, key, datetime.now(UTC))

    async def set(self, key: str, value: str, expires_in: float = STATE_TTL_S) -> None:
        now, ttl = datetime.now(UTC), min(expires_in, STATE_TTL_S)
        await run_in_threadpool(self._run, keep_sign_in_state, key, value, now, ttl)

    async def delete(self, key: str) -> None:
        await run_in_threadpool(self._run, forget_sign_in_state, key)


@dataclass(frozen=True)
class Provider:
    """The configured identity provider: Authlib's client and what the callback checks."""

    client: StarletteOAuth2App
    settings: Settings
    mapping: GroupMapping | None

    @property
    def issuer(self) -> str:
        return str(self.settings.oidc_issuer).rstrip("/")

    def url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, which must name the configured issuer (no mix-up)."""
        metadata: dict[str, Any] = await self.client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
            raise Refused(UNREACHABLE, f"discovery names issuer {metadata.get('issuer')!r}", 502)
        return metadata

    async def verify(self, request: Request) -> tuple[dict[str, Any], str]:
        """The validated ID token's claims and the token itself, or ``Refused``."""
        try:
            metadata = await self.metadata()
            returned = request.query_params.get("iss")  # RFC 9207, when the provider sends it
            if returned is not None and returned != metadata["issuer"]:
                raise Refused(NOT_FOR_US, f"callback from issuer {returned!r}")
            options = {
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": self.client.client_id},
                "exp": {"essential": True},
                "sub": {"essential": True},
            }
            token = await self.client.authorize_access_token(
                request, claims_options=options, leeway=self.settings.oidc_clock_skew_s
            )
        except JoseError as error:  # the ID token: signature, expiry, iss, aud, nonce
            raise Refused(_reason(error), error) from None
        except OAuthError as error:
            reason = REPLAYED if error.error == "mismatching_state" else PROVIDER_REFUSED
            raise Refused(reason, f"{error.error}: {error.description}") from None
        except httpx2.HTTPError as error:
            raise Refused(UNREACHABLE, error, 502) from None
        if not token.get("userinfo") or not token.get("id_token"):
            raise Refused(NOT_FOR_US, "no ID token in the token response")
        return dict(token["userinfo"]), str(token["id_token"])


def _reason(error: JoseError) -> str:
    if isinstance(error, ExpiredTokenError):
        return EXPIRED
    if isinstance(error, BadSignatureError | InvalidKeyIdError):
        return FORGED
    return NOT_FOR_US


def install(app: FastAPI, settings: Settings) -> None:
    """Read IDFLOW_AUTH, and connect the provider when it is offered (Dutch refusal if its
    settings are incomplete or its mapping file is wrong)."""
    app.state.sign_in = sign_in_methods(settings.auth)
    app.state.oidc = None
    if "oidc" in app.state.sign_in:  # else its routes do not exist (404)
        app.state.oidc = _connect(settings, app.state.database_url)
        app.include_router(router)


def _connect(settings: Settings, database_url: str) -> Provider:
    if not settings.oidc_issuer or not settings.oidc_client_id:
        raise InvalidInput(
            f"Aanmelden via de identiteitsprovider (IDFLOW_AUTH={settings.auth}) vraagt "
            "IDFLOW_OIDC_ISSUER (het adres van de provider) en IDFLOW_OIDC_CLIENT_ID; zie de "
            "README, 'Sign-in through the identity provider'."
        )
    mapping = None
    if settings.oidc_group_mapping is not None:
        path = settings.oidc_group_mapping
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise InvalidInput(f"Koppelbestand {path} is niet te lezen: {error}") from None
        mapping = parse_group_mapping(data, str(path))
    secret = settings.oidc_client_secret
    client = OAuth(cache=StateStore(database_url)).register(
        name="idp",
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            # Without a secret idflow is a public client: PKCE alone protects the code.
            "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
            "timeout": TIMEOUT_S,
        },
    )
    return Provider(client, settings, mapping)


def _provider(request: Request) -> Provider:
    return request.app.state.oidc  # type: ignore[no-any-return]


@router.get("/login/oidc")
async def start(request: Request, next: str = "/") -> Response:
    """Send the browser to the provider; back at the callback it goes on to ``next``."""
    provider = _provider(request)
    request.session["next"] = local_path(next)
    try:
        await provider.metadata()
        return await provider.client.authorize_redirect(request, provider.url(CALLBACK))  # type: ignore[no-any-return]
    except Refused as refused:
        return _refusal(request, refused)
    except httpx2.HTTPError as error:
        return _refusal(request, Refused(UNREACHABLE, error, 502))


@router.get(CALLBACK)
async def callback(request: Request) -> Response:
    """The provider's answer: a verified sign-in starts a session, anything else is refused."""
    provider = _provider(request)
    try:
        claims, id_token = await provider.verify(request)
    except Refused as refused:
        return _refusal(request, refused)
    return await run_in_threadpool(_sign_in, request, provider, claims, id_token)


def _sign_in(
    request: Request, provider: Provider, claims: dict[str, Any], id_token: str
) -> Response:
    settings = provider.settings
    grant = provider_role(
        claims, provider.mapping, settings.oidc_role_claim, settings.oidc_directorates_claim
    )
    username = claims.get(settings.oidc_username_claim)
    who = ProviderIdentity(
        str(claims["iss"]), str(claims["sub"]), username if isinstance(username, str) else ""
    )
    now = datetime.now(UTC)
    try:
        with unit(request) as session:
            user = provider_sign_in(session, who, None if isinstance(grant, NoRole) else grant)
            key = None
            if user is not None and user.id is not None:
                forget_old_sessions(
                    session, now, settings.session_idle_s, settings.session_max_age_s
                )
                key = start_session(session, user.id, now, id_token)
    except IdflowError as error:
        return _refusal(request, Refused(str(error), error, error.http_status))
    if isinstance(grant, NoRole) or key is None:
        groups = claims.get(
            provider.mapping.claim if provider.mapping else settings.oidc_role_claim
        )
        log.warning(
            "Aanmelding zonder rol: %s (sub %s), claim: %r", who.username, who.subject, groups
        )
        reason = grant.reason if isinstance(grant, NoRole) else ""
        return _page(request, "no_role.html", {"reason": reason, "username": who.username}, 403)
    following = str(request.session.get("next") or "/")
    begin_session(request, key)
    return RedirectResponse(local_path(following), status_code=303)


async def sign_out_url(request: Request, id_token: str | None) -> str:
    """Where the browser goes after idflow's sign-out: the provider's end-session endpoint
    when the session came from the provider and it offers one, else the sign-in page."""
    provider: Provider | None = request.app.state.oidc
    if provider is None or id_token is None:
        return SIGNED_OUT
    try:
        metadata = await provider.metadata()
        if not metadata.get("end_session_endpoint"):
            return SIGNED_OUT
        logout = await provider.client.create_logout_url(
            post_logout_redirect_uri=provider.url(SIGNED_OUT),
            id_token_hint=id_token,
            client_id=provider.client.client_id,
        )
    except (Refused, httpx2.HTTPError) as error:
        log.warning("Afmelden bij de identiteitsprovider overgeslagen: %s", error)
        return SIGNED_OUT
    return str(logout["url"])


def _refusal(request: Request, refused: Refused) -> Response:
    log.warning("Aanmelden via de identiteitsprovider geweigerd: %s", refused.cause)
    return _page(request, "sign_in_refused.html", {"reason": str(refused)}, refused.status)


def _page(request: Request, name: str, context: dict[str, Any], status: int) -> Response:
    settings: Settings = request.app.state.settings
    base = {"who": None, "csrf": csrf_token(request), "flash": None}
    base |= {"contact": settings.oidc_contact, "provider_label": settings.oidc_provider_label}
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, base | context, status_code=status)
