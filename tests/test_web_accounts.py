"""Account administration: deactivating users and revoking API tokens (API and CLI)."""

from typing import Any

import pytest
from sqlmodel import Session, select
from test_web_api import PASSWORD, Site, sign_in
from typer.testing import CliRunner

from models.tables import ApiToken, User

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def site(engine: Any, db_url: str) -> Site:
    return Site(engine, db_url)


def _token_ids(site: Site, username: str) -> list[int]:
    with Session(site.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        return [t.id for t in session.exec(select(ApiToken).where(ApiToken.user_id == user.id))]


def test_a_deactivated_user_is_signed_out_and_their_tokens_stop_working(site: Site) -> None:
    admin = site.auth("adm")
    rita = site.auth("rita")
    browser = site.browser("rita")
    assert browser.get("/vacatures", follow_redirects=False).status_code == 200
    answer = site.client.post("/api/users/rita/deactivate", headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"username": "rita", "active": False, "tokens_revoked": 1}
    # The session cookie of a moment ago and the API token: refused at the next request.
    assert browser.get("/vacatures", follow_redirects=False).status_code == 303
    assert site.client.get("/api/me", headers=rita).status_code == 401
    assert sign_in(site.browser(), "rita", PASSWORD).status_code == 401
    users = {u["username"]: u for u in site.client.get("/api/users", headers=admin).json()}
    assert users["rita"]["active"] is False
    tokens = site.client.get("/api/users/rita/tokens", headers=admin).json()
    assert [(t["label"], t["revoked"]) for t in tokens] == [("tests", True)]
    assert "token_hash" not in tokens[0]

    assert site.client.post("/api/users/rita/activate", headers=admin).status_code == 200
    assert sign_in(site.browser(), "rita", PASSWORD).status_code == 303
    assert site.client.get("/api/me", headers=rita).status_code == 401  # stays revoked


@sqlite_only
def test_an_admin_revokes_one_api_token_by_id(site: Site) -> None:
    admin = site.auth("adm")
    rita = site.auth("rita")
    (token_id,) = _token_ids(site, "rita")
    answer = site.client.post(f"/api/tokens/{token_id}/revoke", headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["revoked"] is True and answer.json()["username"] == "rita"
    assert site.client.get("/api/me", headers=rita).status_code == 401
    assert site.browser("rita").get("/vacatures", follow_redirects=False).status_code == 200


@sqlite_only
def test_unknown_users_and_tokens_are_refused_in_dutch(site: Site) -> None:
    admin = site.auth("adm")
    for method, url, text in [
        ("post", "/api/users/niemand/deactivate", "Gebruiker 'niemand' bestaat niet."),
        ("post", "/api/users/niemand/activate", "Gebruiker 'niemand' bestaat niet."),
        ("get", "/api/users/niemand/tokens", "Gebruiker 'niemand' bestaat niet."),
        ("post", "/api/tokens/999999/revoke", "API-token 999999 bestaat niet."),
    ]:
        answer = getattr(site.client, method)(url, headers=admin)
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == text


@sqlite_only
def test_the_last_active_admin_stays_active(site: Site) -> None:
    answer = site.client.post("/api/users/adm/deactivate", headers=site.auth("adm"))
    assert answer.status_code == 422 and "laatste actieve beheerder" in answer.json()["detail"]
    assert site.client.get("/api/me", headers=site.auth("adm")).status_code == 200


@sqlite_only
def test_users_are_deactivated_and_tokens_revoked_from_the_command_line(site: Site) -> None:
    """``idflow users deactivate|activate|tokens|revoke-token`` (in-process, test database)."""
    from idflow.cli import app

    runner = CliRunner()
    rita = site.auth("rita")
    site.user("rob")
    result = runner.invoke(app, ["users", "tokens", "rita"])
    assert result.exit_code == 0, result.output
    assert "tests" in result.output and "geldig" in result.output

    result = runner.invoke(app, ["users", "deactivate", "rita"])
    assert result.exit_code == 0, result.output
    assert "gedeactiveerd" in result.output and "1 API-token" in result.output
    assert site.client.get("/api/me", headers=rita).status_code == 401
    assert "ingetrokken" in runner.invoke(app, ["users", "tokens", "rita"]).output
    assert "(gedeactiveerd)" in runner.invoke(app, ["users", "list"]).output

    assert runner.invoke(app, ["users", "activate", "rita"]).exit_code == 0
    assert sign_in(site.browser(), "rita", PASSWORD).status_code == 303

    (token_id,) = _token_ids(site, "rob")
    result = runner.invoke(app, ["users", "revoke-token", str(token_id)])
    assert result.exit_code == 0 and "ingetrokken" in result.output, result.output
    assert site.client.get("/api/me", headers=site.auth("rob")).status_code == 401

    unknown = runner.invoke(app, ["users", "deactivate", "niemand"])
    assert unknown.exit_code != 0
    assert "Gebruiker 'niemand' bestaat niet." in str(unknown.exception) + unknown.output


@sqlite_only
@pytest.mark.parametrize("username", ["<b>x</b>", "a\nb", "nul\x00", "met spatie", "x" * 65])
def test_markup_and_control_characters_are_refused_in_user_names_everywhere(
    site: Site, username: str
) -> None:
    from idflow.cli import app

    body = {"username": username, "password": PASSWORD, "role": "pno"}
    answer = site.client.post("/api/users", json=body, headers=site.auth("adm"))
    assert answer.status_code == 422, answer.text
    assert "letters, cijfers en . _ @ -" in answer.json()["detail"]
    result = CliRunner().invoke(
        app, ["users", "add", username, "--role", "pno"], env={"IDFLOW_NEW_USER_PASSWORD": PASSWORD}
    )
    assert result.exit_code != 0 and "Ongeldige gebruikersnaam" in str(result.exception)
    with Session(site.engine) as session:
        names = set(session.exec(select(User.username)))
    assert names == {"adm"}


@sqlite_only
def test_the_last_active_admin_keeps_the_admin_role(site: Site) -> None:
    answer = site.client.post("/api/users/adm", json={"role": "pno"}, headers=site.auth("adm"))
    assert answer.status_code == 422 and "laatste actieve beheerder" in answer.json()["detail"]
