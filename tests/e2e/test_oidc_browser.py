"""Sign-in through a real OpenID provider, in real headless Chromium (README, "Sign-in through
the identity provider").

The test provider is node oidc-provider (``tests/oidc/provider.js``, installed by
``scripts/ensure-oidc-provider``); two ``idflow serve`` processes use it: one with
IDFLOW_AUTH=both and a mapping file from group ids (as Entra ID sends them) to roles, one with
IDFLOW_AUTH=oidc and the roles in the claims themselves. Bad ID tokens come from the provider
itself: its token endpoint can sign with another key under the published key id, with a key
it never published, with a new key it publishes beside the old one (a rotation), or with its
clock running behind (tokens that arrive expired).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from oidc_harness import IdflowServer, OidcProvider
from sqlmodel import Session, select
from test_web_browser import TIMEOUT_MS, _free_port, browser, shoot  # noqa: F401

from models.database import dispose_engine, get_engine
from models.tables import SignInState, User, UserDirectorate, WebSession
from procedures.accounts import create_user
from procedures.engine import apply_event
from procedures.events import parse_event
from procedures.sessions import digest
from procedures.setup import initialise
from web.oidc import EXPIRED, FORGED, REPLAYED

pytestmark = pytest.mark.browser
SECRET = "idflow-test-client-secret"
PASSWORD = "wachtwoord-bij-de-provider"
ADMIN_PASSWORD = "correct-horse-battery"
CONTACT = "de servicedesk (toestel 1234)"
# Entra ID sends the object ids of the user's groups, not their names.
WS_OJZ = "6f1c2e0a-7d1b-4b8e-9a51-1c2d3e4f5a6b"
WS_WPI = "0b7d9c3e-2f4a-4c6d-8e1f-a2b3c4d5e6f7"
PNO = "c3a1f0e9-5b7d-4e2a-9c8b-7d6e5f4a3b2c"
ALL_STAFF = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"  # a group idflow does not know
MAPPING = f"""# Groups of the identity provider, by object id, to idflow's roles.
groups_claim: groups
groups:
  {WS_OJZ}: {{role: recruiter, directorates: [SOC-OJZ]}}
  {WS_WPI}:
    role: recruiter
    directorates: [SOC-WPI]
  {PNO}: {{role: pno}}
"""


@dataclass
class World:
    provider: OidcProvider
    mapped: IdflowServer  # IDFLOW_AUTH=both, roles through the mapping file
    claimed: IdflowServer  # IDFLOW_AUTH=oidc, roles from the claims
    db_url: str


def _open(session: Session, vacancy: str, directorate: str) -> None:
    data = {"directorate": directorate, "scale": 12, "title": "Teamleider", "kind": "external"}
    raw = {"id": f"e-{vacancy}", "vacancy": vacancy, "event": "open", "actor": "test"}
    apply_event(session, parse_event(raw | {"data": data}, interactive=True), origin="test")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("oidc")
    db_url = f"sqlite:///{tmp / 'idflow.db'}"
    engine = get_engine(db_url)
    with Session(engine) as session:
        initialise(engine, session)
        create_user(session, "beheer", ADMIN_PASSWORD, "admin", [])  # the break-glass admin
        _open(session, "VAC-OJZ-1", "SOC-OJZ")
        _open(session, "VAC-WPI-1", "SOC-WPI")
        session.commit()
    mapping = tmp / "groepen.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    ports = [_free_port(), _free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    provider = OidcProvider(tmp / "provider.log", "idflow", SECRET, urls)
    provider.add("rita", PASSWORD, preferred_username="rita@gemeente.test", groups=[WS_OJZ])
    provider.add("pia", PASSWORD, preferred_username="pia@gemeente.test", groups=[PNO])
    provider.add("nora", PASSWORD, preferred_username="nora@gemeente.test", groups=[ALL_STAFF])
    provider.add(
        "dirk",
        PASSWORD,
        preferred_username="dirk@gemeente.test",
        idflow_role="recruiter",
        idflow_directorates=["SOC-WPI"],
    )
    servers: list[IdflowServer] = []
    try:
        provider.start()
        common = {
            "database_url": db_url,
            "oidc_issuer": provider.issuer,
            "oidc_client_id": "idflow",
            "oidc_client_secret": SECRET,
            "session_secret": "e2e-session-secret",
            "oidc_contact": CONTACT,
        }
        mapped = common | {"auth": "both", "oidc_group_mapping": str(mapping)}
        servers.append(IdflowServer(ports[0], tmp / "mapped.log", mapped).start())
        servers.append(IdflowServer(ports[1], tmp / "claimed.log", common | {"auth": "oidc"}))
        servers[1].start()
        yield World(provider, servers[0], servers[1], db_url)
    finally:
        for server in servers:
            server.stop()
        provider.stop()
        dispose_engine(db_url)


def _loopback_only(route: Any) -> None:
    # Nothing in these tests may leave the machine.
    host = urlsplit(route.request.url).hostname
    route.continue_() if host == "127.0.0.1" else route.abort()


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest, world: World
) -> Iterator[Callable[[IdflowServer], Any]]:
    """Pages in fresh browser contexts (no cookies, no session at the provider)."""
    chromium = request.getfixturevalue("browser")  # as test_web_browser starts it
    made: list[tuple[Any, list[str]]] = []

    def make(server: IdflowServer) -> Any:
        context = chromium.new_context(base_url=server.url)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", _loopback_only)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        made.append((context, console))
        return page

    yield make
    world.provider.sign_with("normal")
    for context, console in made:
        context.close()
        # idflow's pages keep their CSP (no inline script) through the whole flow.
        refused = [text for text in console if "Content Security Policy" in text]
        assert not refused, refused


@dataclass
class SignIn:
    authorize_url: str = ""  # the request that sent the browser to the provider
    callback_url: str = ""  # the provider's answer (code and state)
    cookies_before_callback: list[dict[str, Any]] | None = None


def sign_in(page: Any, server: IdflowServer, login: str, start: str = "/vacatures") -> SignIn:
    """Sign in as a user would: the button on idflow's page, the provider's login form, back."""
    seen = SignIn()

    def record(request: Any) -> None:
        if "/auth?" in request.url and not seen.authorize_url:
            seen.authorize_url = request.url
        if "/login/oidc/callback?" in request.url:
            seen.callback_url = request.url

    page.on("request", record)
    page.goto(start)
    page.click("#oidc-sign-in")
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    seen.cookies_before_callback = page.context.cookies()
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/**")
    page.wait_for_load_state()
    page.remove_listener("request", record)
    return seen


def listed(page: Any) -> set[str]:
    return set(page.locator("#vacancy-list td:first-child a").all_inner_texts())


def account(world: World, username: str) -> tuple[User | None, list[str], int]:
    """The stored account, its directorates and its number of live sessions."""
    with Session(get_engine(world.db_url)) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            return None, [], 0
        links = session.exec(
            select(UserDirectorate.directorate).where(UserDirectorate.user_id == user.id)
        )
        sessions = session.exec(select(WebSession).where(WebSession.user_id == user.id)).all()
        return user, sorted(links), len(sessions)


def refused_with(page: Any, reason: str) -> None:
    assert page.locator("#sign-in-refused").is_visible()
    assert reason in page.inner_text("#sign-in-refused")
    page.goto("/vacatures")  # and nobody is signed in
    assert urlsplit(page.url).path == "/login"


# -- signing in; the role and directorates ---------------------------------------------------


def test_a_recruiter_signs_in_through_the_provider_and_sees_only_their_directorates(
    world: World, new_page: Any
) -> None:
    page = new_page(world.mapped)
    seen = sign_in(page, world.mapped, "rita")
    assert urlsplit(page.url).path == "/vacatures"
    assert "rita@gemeente.test · recruiter (W&S)" in page.inner_text("form.who")
    assert listed(page) == {"VAC-OJZ-1"}
    page.goto("/vacatures/VAC-WPI-1")
    assert "bestaat niet of valt buiten uw directies" in page.inner_text("main")
    # The authorization code flow with PKCE, a state and a nonce.
    query = parse_qs(urlsplit(seen.authorize_url).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43 and query["state"] and query["nonce"]
    user, directorates, sessions = account(world, "rita@gemeente.test")
    assert user is not None and user.role == "recruiter" and directorates == ["SOC-OJZ"]
    assert (user.oidc_issuer, user.oidc_subject) == (world.provider.issuer, "sub-rita")
    assert user.password_hash == "" and sessions >= 1  # no password in idflow


def test_a_group_change_takes_effect_at_the_next_sign_in_and_ends_the_older_session(
    world: World, new_page: Any
) -> None:
    before = new_page(world.mapped)
    sign_in(before, world.mapped, "rita")
    assert listed(before) == {"VAC-OJZ-1"}
    world.provider.set_claims("rita", preferred_username="rita@gemeente.test", groups=[WS_WPI])
    try:
        before.reload()  # nothing changes until she signs in again
        assert listed(before) == {"VAC-OJZ-1"}
        after = new_page(world.mapped)
        sign_in(after, world.mapped, "rita")
        assert listed(after) == {"VAC-WPI-1"}
        _, directorates, sessions = account(world, "rita@gemeente.test")
        assert directorates == ["SOC-WPI"] and sessions == 1
        before.goto("/vacatures")  # the session from before the change has ended
        assert urlsplit(before.url).path == "/login"
    finally:
        world.provider.set_claims("rita", preferred_username="rita@gemeente.test", groups=[WS_OJZ])


def test_roles_and_directorates_come_from_the_claims_without_a_mapping_file(
    world: World, new_page: Any
) -> None:
    page = new_page(world.claimed)
    page.goto("/login")
    assert page.locator("#oidc-sign-in").is_visible()
    assert page.locator("input[name=password]").count() == 0  # IDFLOW_AUTH=oidc
    sign_in(page, world.claimed, "dirk")
    assert "dirk@gemeente.test · recruiter (W&S)" in page.inner_text("form.who")
    assert listed(page) == {"VAC-WPI-1"}


def test_a_user_without_a_mapped_role_gets_a_dutch_page_saying_whom_to_ask(
    world: World, new_page: Any
) -> None:
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "nora")
    text = page.inner_text("#no-role")
    assert "geen toegang tot idflow" in text and CONTACT in text
    assert "Geen van uw groepen bij de identiteitsprovider geeft toegang tot idflow." in text
    shoot(page, "oidc-no-role")
    assert account(world, "nora@gemeente.test")[0] is None
    page.goto("/vacatures")
    assert urlsplit(page.url).path == "/login"


def test_local_accounts_stay_beside_the_provider_for_a_break_glass_admin(
    world: World, new_page: Any
) -> None:
    page = new_page(world.mapped)
    page.goto("/login")
    assert page.locator("#oidc-sign-in").is_visible()  # IDFLOW_AUTH=both
    shoot(page, "oidc-sign-in-both")
    page.fill("input[name=username]", "beheer")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_selector("form.who")
    assert urlsplit(page.url).path == "/beheer"


# -- tokens that are refused, and one that is not ----------------------------------------


def test_an_expired_id_token_is_refused(world: World, new_page: Any) -> None:
    world.provider.sign_with("normal", clock_offset_s=-3600)  # the provider's clock is behind
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")
    shoot(page, "oidc-refused-expired")
    refused_with(page, EXPIRED)
    assert account(world, "pia@gemeente.test")[2] == 0


def test_a_token_expired_within_the_clock_skew_allowance_is_accepted(
    world: World, new_page: Any
) -> None:
    # ID tokens live 300 s; 360 s behind, this one expired 60 s ago: within the 120 s allowed.
    world.provider.sign_with("normal", clock_offset_s=-360)
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")
    assert "pia@gemeente.test · P&O-adviseur" in page.inner_text("form.who")


@pytest.mark.parametrize("signer", ["forged", "stranger"])
def test_a_wrongly_signed_id_token_is_refused(world: World, new_page: Any, signer: str) -> None:
    """Signed with another key under the published key id, or with a key never published."""
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")  # a good sign-in first: the provider's keys are known
    world.provider.sign_with(signer)
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")
    refused_with(page, FORGED)


def test_a_key_rotation_at_the_provider_is_followed(world: World, new_page: Any) -> None:
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")  # idflow knows the provider's keys from this sign-in
    world.provider.sign_with("rotated")  # a new key, published beside the old one
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")
    assert "pia@gemeente.test · P&O-adviseur" in page.inner_text("form.who")


def test_a_replayed_callback_is_refused(world: World, new_page: Any) -> None:
    page = new_page(world.mapped)
    seen = sign_in(page, world.mapped, "rita")
    assert urlsplit(page.url).path == "/vacatures" and seen.callback_url
    sessions = account(world, "rita@gemeente.test")[2]
    page.goto(seen.callback_url)  # the same answer again, in the same browser
    assert REPLAYED in page.inner_text("#sign-in-refused")
    # And with the cookie from before the callback, which still names the state: the state
    # was used, so idflow refuses it before the provider is asked to redeem the code again.
    thief = new_page(world.mapped)
    thief.context.add_cookies(
        [c for c in seen.cookies_before_callback or [] if c["name"] == "idflow_session"]
    )
    thief.goto(seen.callback_url)
    assert REPLAYED in thief.inner_text("#sign-in-refused")
    assert account(world, "rita@gemeente.test")[2] == sessions
    state = parse_qs(urlsplit(seen.callback_url).query)["state"][0]
    with Session(get_engine(world.db_url)) as session:  # taken at the first callback
        assert session.get(SignInState, digest(f"_state_idp_{state}")) is None


# -- signing out -------------------------------------------------------------------------


def test_sign_out_ends_the_idflow_session_and_the_one_at_the_provider(
    world: World, new_page: Any
) -> None:
    page = new_page(world.mapped)
    sign_in(page, world.mapped, "pia")
    old_cookies = page.context.cookies()
    sessions = account(world, "pia@gemeente.test")[2]  # hers on other browsers stay
    page.click("form.who button[type=submit]")
    # RP-initiated logout: the provider asks for confirmation, then sends the browser back.
    page.wait_for_selector("button[name=logout]")
    assert page.url.startswith(f"{world.provider.issuer}/session/end")
    page.click("button[name=logout]")
    page.wait_for_url(f"{world.mapped.url}/login**")
    assert "U bent afgemeld." in page.inner_text("main")
    assert account(world, "pia@gemeente.test")[2] == sessions - 1
    thief = new_page(world.mapped)  # the cookie as it was before signing out
    thief.context.add_cookies([c for c in old_cookies if c["name"] == "idflow_session"])
    thief.goto("/vacatures")
    assert urlsplit(thief.url).path == "/login"
    page.click("#oidc-sign-in")  # signed out at the provider too: it asks again
    page.wait_for_selector("input[name=login]")
    assert re.match(rf"{re.escape(world.provider.issuer)}/interaction/", page.url)
