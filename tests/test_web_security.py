"""Sessions that end, sign-in backoff that cannot be abused, security headers, bounded
request bodies and API tokens with an expiry (README, "Security")."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_web_api import PASSWORD, Site, csrf_of, sign_in, transitions
from typer.testing import CliRunner

from models.tables import ApiToken, SignInFailure, WebSession
from web.app import create_app

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
BODY = {"vacancy": "VAC-1", "directorate": "SOC-OJZ", "scale": 12, "title": "T"}


@pytest.fixture
def site(engine: Any, db_url: str) -> Site:
    return Site(engine, db_url)


def _client(site: Site, address: str = "testclient") -> TestClient:
    return TestClient(site.app, base_url="https://testserver", client=(address, 50000))


def _age(site: Site, column: Any, delta: timedelta) -> None:
    """Move every stored moment in ``column`` back by ``delta`` (time passing, no sleep)."""
    model, name = column.class_, column.key
    with Session(site.engine) as session:
        for row in session.exec(select(model)):
            if getattr(row, name) is not None:
                setattr(row, name, getattr(row, name) - delta)
                session.add(row)
        session.commit()


# -- 1. signing out ends the session ---------------------------------------------------------


def test_an_old_cookie_after_signing_out_gets_the_sign_in_page_and_401(site: Site) -> None:
    browser = site.browser("rita")
    page = browser.get("/vacatures")
    assert page.status_code == 200
    token = csrf_of(page.text)
    old = dict(browser.cookies)
    assert browser.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    thief = _client(site)
    thief.cookies.update(old)  # the cookie as it was before signing out
    answer = thief.get("/vacatures", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert thief.get("/api/vacancies").status_code == 401
    opened = thief.post("/api/vacancies", json=BODY, headers={"X-CSRF-Token": token})
    assert opened.status_code == 401
    assert transitions(site.engine, "VAC-1") == []


@sqlite_only
def test_a_cookie_from_before_a_deactivation_stays_dead_after_reactivation(site: Site) -> None:
    browser = site.browser("rita")
    admin = site.auth("adm")
    assert site.client.post("/api/users/rita/deactivate", headers=admin).status_code == 200
    assert site.client.post("/api/users/rita/activate", headers=admin).status_code == 200
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303
    assert browser.get("/api/me").status_code == 401


@sqlite_only
@pytest.mark.parametrize(
    "change",
    [
        {"role": "pno", "directorates": []},
        {"directorates": ["SOC-WPI"]},
        {"password": "een-heel-nieuw-wachtwoord"},
    ],
)
def test_a_role_directorate_or_password_change_ends_the_users_sessions(
    site: Site, change: dict[str, Any]
) -> None:
    browser = site.browser("rita")
    other = site.browser("rob")
    answer = site.client.post("/api/users/rita", json=change, headers=site.auth("adm"))
    assert answer.status_code == 200, answer.text
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303
    assert other.get("/vacatures", follow_redirects=False).status_code == 200  # only hers
    password = change.get("password", PASSWORD)
    assert sign_in(site.browser(), "rita", password).status_code == 303


@sqlite_only
def test_the_cli_ends_sessions_when_it_changes_a_user(site: Site) -> None:
    from idflow.cli import app

    runner = CliRunner()
    browser = site.browser("rita")
    result = runner.invoke(app, ["users", "change", "rita", "--directorate", "SOC-WPI"])
    assert result.exit_code == 0, result.output
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303
    browser = site.browser("rita")
    env = {"IDFLOW_NEW_USER_PASSWORD": "nog-een-nieuw-wachtwoord"}
    result = runner.invoke(app, ["users", "password", "rita"], env=env)
    assert result.exit_code == 0, result.output
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303


def test_a_session_ends_after_the_idle_time_and_after_its_maximum_age(site: Site) -> None:
    browser = site.browser("rita")
    _age(site, WebSession.last_seen_at, timedelta(minutes=29))  # IDFLOW_SESSION_IDLE_S: 30 min
    assert browser.get("/vacatures", follow_redirects=False).status_code == 200  # and renewed
    _age(site, WebSession.last_seen_at, timedelta(minutes=29))
    assert browser.get("/vacatures", follow_redirects=False).status_code == 200
    _age(site, WebSession.last_seen_at, timedelta(minutes=31))
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303
    browser = site.browser("rita")
    _age(site, WebSession.created_at, timedelta(hours=8, minutes=1))
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303
    with Session(site.engine) as session:
        assert session.exec(select(WebSession)).all() == []  # ended sessions are removed


# -- 6. sign-in backoff that cannot be abused ------------------------------------------------


def test_a_locked_out_attacker_does_not_lock_out_the_real_user_at_another_address(
    site: Site,
) -> None:
    site.user("rita")
    attacker = _client(site, "203.0.113.66")
    answers = [sign_in(attacker, "rita", f"raden-{n}").status_code for n in range(8)]
    assert answers == [401] * 5 + [429] * 3
    blocked = sign_in(attacker, "rita", PASSWORD)
    assert blocked.status_code == 429 and "Te veel mislukte" in blocked.text
    assert sign_in(_client(site, "10.1.2.3"), "rita", PASSWORD).status_code == 303
    # Another process (another app on the same database) sees the same counts.
    other = create_app(site.db_url)
    client = TestClient(other, base_url="https://testserver", client=("203.0.113.66", 1))
    assert sign_in(client, "rita", PASSWORD).status_code == 429


@sqlite_only
def test_the_wait_doubles_per_failure_up_to_fifteen_minutes_and_refusals_do_not_count(
    site: Site,
) -> None:
    site.user("rita")
    attacker = _client(site, "203.0.113.66")
    for _ in range(4):  # free
        assert sign_in(attacker, "rita", "fout").status_code == 401
    waits = []
    for _ in range(9):
        assert sign_in(attacker, "rita", "fout").status_code == 401
        for _ in range(3):  # refused while waiting: these do not make the wait longer
            assert sign_in(attacker, "rita", "fout").status_code == 429
        with Session(site.engine) as session:
            rows = session.exec(select(SignInFailure)).all()
            pair = max(rows, key=lambda r: r.blocked_until or r.last_failed_at)
            waits.append((pair.blocked_until - pair.last_failed_at).total_seconds())
        _age(site, SignInFailure.blocked_until, pair.blocked_until - pair.last_failed_at)
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900, 900], waits
    assert sign_in(attacker, "rita", PASSWORD).status_code == 303  # the wait is over


@sqlite_only
def test_an_address_trying_many_names_is_slowed_down_too(site: Site) -> None:
    site.user("rita")
    settings = site.app.state.settings  # one free failure per name: ten per address
    site.app.state.settings = settings.model_copy(update={"login_max_failures": 1})
    scanner = _client(site, "198.51.100.9")
    for n in range(10):
        assert sign_in(scanner, f"naam-{n}", "fout").status_code == 401
    assert sign_in(scanner, "rita", PASSWORD).status_code == 429
    assert sign_in(_client(site, "10.1.2.3"), "rita", PASSWORD).status_code == 303


# -- 5. security headers on every answer -----------------------------------------------------


def _assert_headers(answer: Any, hsts: bool = True) -> None:
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert ("strict-transport-security" in answer.headers) is hsts


def test_every_answer_carries_the_security_headers(site: Site) -> None:
    browser = site.browser("pia")
    site.app.add_api_route("/api/kapot", lambda: 1 / 0)
    crashing = TestClient(site.app, base_url="https://testserver", raise_server_exceptions=False)
    answers = [
        site.browser().get("/login"),  # a page
        browser.get("/dashboard"),
        browser.get("/api/me"),  # the API
        site.client.get("/api/me"),  # 401
        site.client.get("/nergens"),  # 404
        browser.get("/static/style.css"),
        # downloads (internal: a quarter that is not closed has no publication)
        browser.get("/api/reports/2025Q1?format=xlsx&suppress=false"),
        browser.get("/api/reports/2025Q1?format=html&suppress=false"),
        browser.get("/openapi.json"),
        crashing.get("/api/kapot"),  # 500
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 401, 404, 200, 200, 200, 200, 500]
    for answer in answers:
        _assert_headers(answer)


@sqlite_only
def test_hsts_is_sent_only_when_cookies_are_https_only(site: Site) -> None:
    from models import get_settings

    plain = create_app(site.db_url, get_settings().model_copy(update={"cookie_secure": False}))
    _assert_headers(TestClient(plain).get("/login"), hsts=False)


def test_no_page_or_template_has_inline_script_or_style() -> None:
    """The CSP allows script and style from /static only: nothing inline may be needed."""
    import re

    templates = Path(__file__).resolve().parents[1] / "web" / "templates"
    for path in templates.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", text), path.name


# -- 3. bounded request bodies ---------------------------------------------------------------


def _big_body(size: int) -> bytes:
    return json.dumps({"event": "approve_text", "data": {"explanation": "x" * size}}).encode()


def test_a_20_mb_json_body_is_refused_unread_with_the_limit_named(site: Site) -> None:
    site.open("rita", "VAC-1")
    headers = site.auth("rita") | {"content-type": "application/json"}
    url = "/api/vacancies/VAC-1/events"
    body = _big_body(20_000_000)
    declared = site.client.post(url, content=body, headers=headers)
    chunked = site.client.post(
        url,
        content=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
        headers=headers,
    )
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text[:200]
        assert answer.headers["content-type"] == "application/problem+json"
        assert "hoogstens 1000000 bytes" in answer.json()["detail"]
    assert len(transitions(site.engine, "VAC-1")) == 1


@sqlite_only
def test_a_form_over_the_limit_is_refused_as_a_dutch_page(site: Site) -> None:
    site.open("rita", "VAC-1")
    browser = site.browser("rita")
    token = csrf_of(browser.get("/vacatures/VAC-1").text)
    form = {"csrf": token, "event": "deviate_text", "explanation": "x" * 1_100_000}
    answer = browser.post("/vacatures/VAC-1", data=form)
    assert answer.status_code == 413 and "hoogstens 1000000 bytes" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert len(transitions(site.engine, "VAC-1")) == 1


# -- 5. API tokens with an expiry, read-only for roles that change nothing -------------------


def test_a_token_is_valid_90_days_shows_its_expiry_and_records_its_last_use(site: Site) -> None:
    browser = site.browser("rita")
    token = csrf_of(browser.get("/vacatures").text)
    made = browser.post("/api/tokens?label=ats", headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    body = made.json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
    assert body["read_only"] is False
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert site.client.get("/api/me", headers=bearer).status_code == 200
    with Session(site.engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.label == "ats")).one()
        assert row.last_used_at is not None
    _age(site, ApiToken.expires_at, timedelta(days=91))
    assert site.client.get("/api/me", headers=bearer).status_code == 401


@sqlite_only
def test_auditors_get_read_only_tokens_and_read_only_tokens_change_nothing(site: Site) -> None:
    made = site.client.post("/api/tokens?label=script", headers=site.auth("aud")).json()
    assert made["read_only"] is True
    # P&O closes quarters, so gets a token that writes unless it asks for a read-only one.
    pno = site.client.post("/api/tokens?label=script", headers=site.auth("pia")).json()
    assert pno["read_only"] is False
    asked = site.client.post("/api/tokens?read_only=true", headers=site.auth("pia")).json()
    assert asked["read_only"] is True
    closing = {"Authorization": f"Bearer {asked['token']}"}
    assert site.client.post("/api/quarters/2025Q1/close", headers=closing).status_code == 403
    recruiter = site.client.post("/api/tokens?read_only=true", headers=site.auth("rita")).json()
    assert recruiter["read_only"] is True
    reader = {"Authorization": f"Bearer {recruiter['token']}"}
    assert site.client.get("/api/vacancies", headers=reader).status_code == 200
    assert site.client.post("/api/vacancies", json=BODY, headers=reader).status_code == 403
    again = site.client.post("/api/tokens", headers=reader).json()
    assert again["read_only"] is True  # a read-only token never makes one that writes
    assert transitions(site.engine, "VAC-1") == []


@sqlite_only
def test_the_cli_shows_a_tokens_expiry_and_lists_its_last_use(site: Site) -> None:
    from idflow.cli import app

    site.user("aud")
    runner = CliRunner()
    made = runner.invoke(app, ["users", "token", "aud", "--label", "steekproef", "--days", "30"])
    assert made.exit_code == 0, made.output
    assert "idf_" in made.stdout and "Geldig tot" in made.output
    assert "alleen lezen" in made.output
    listed = runner.invoke(app, ["users", "tokens", "aud"]).output
    assert "steekproef" in listed and "laatst gebruikt nooit" in listed
    refused = runner.invoke(app, ["users", "token", "aud", "--days", "400"])
    assert refused.exit_code != 0 and "1 tot 365 dagen" in str(refused.exception)
