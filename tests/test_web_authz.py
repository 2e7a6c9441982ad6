"""Every route x every role: who may use it, generated from the app so no route escapes."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_web_api import USERS, Site, csrf_of

PUBLIC = "public"
READ = {"recruiter", "pno", "auditor"}
ALL = {"recruiter", "pno", "auditor", "admin"}
# The expected matrix. A route missing here (or one here that the app lacks) fails the test.
EXPECTED: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): ALL,
    ("GET", "/"): ALL,
    ("GET", "/vacatures"): READ,
    ("POST", "/vacatures"): {"recruiter"},
    ("GET", "/vacatures/{vacancy}"): READ,
    ("POST", "/vacatures/{vacancy}"): {"recruiter"},
    ("POST", "/vacatures/{vacancy}/tekstcheck"): READ,
    ("GET", "/dashboard"): {"pno", "auditor"},
    ("GET", "/beheer"): {"admin"},
    ("POST", "/beheer/gebruikers"): {"admin"},
    ("GET", "/api/vacancies"): READ,
    ("POST", "/api/vacancies"): {"recruiter"},
    ("GET", "/api/vacancies/{vacancy}"): READ,
    ("POST", "/api/vacancies/{vacancy}/events"): {"recruiter"},
    ("POST", "/api/imports"): {"recruiter"},
    ("POST", "/api/text-check"): READ,
    ("GET", "/api/reports/{quarter}"): READ,
    ("GET", "/api/alerts"): {"pno", "auditor"},
    ("GET", "/api/audit/verify"): {"auditor"},
    ("GET", "/api/organisation"): ALL,
    ("POST", "/api/organisation"): {"admin"},
    ("POST", "/api/policy"): {"admin"},
    ("GET", "/api/users"): {"admin"},
    ("POST", "/api/users"): {"admin"},
    ("POST", "/api/users/{username}"): {"admin"},
    ("POST", "/api/users/{username}/deactivate"): {"admin"},
    ("POST", "/api/users/{username}/activate"): {"admin"},
    ("GET", "/api/users/{username}/tokens"): {"admin"},
    ("POST", "/api/tokens/{token_id}/revoke"): {"admin"},
    ("POST", "/api/tokens"): ALL,
    ("GET", "/api/me"): ALL,
    ("GET", "/kwartalen"): {"pno", "auditor", "admin"},
    ("GET", "/kwartalen/{quarter}/vaststellen"): {"pno", "admin"},
    ("POST", "/kwartalen/{quarter}/vaststellen"): {"pno", "admin"},
    ("POST", "/kwartalen/{quarter}/heropenen"): {"admin"},
    ("GET", "/api/quarters"): {"pno", "auditor", "admin"},
    ("POST", "/api/quarters/{quarter}/close"): {"pno", "admin"},
    ("POST", "/api/quarters/{quarter}/reopen"): {"admin"},
    ("GET", "/api/quarters/{quarter}/snapshots/{version}"): {"pno", "auditor"},
}
ROLE_USER = {role: name for name, (role, _) in reversed(USERS.items())}  # rita for recruiter
# Accounts that do not exist: the matrix must not deactivate the users it signs in with.
SAMPLE = {
    "{vacancy}": "VAC-1",
    "{quarter}": "2025Q1",
    "{username}": "niemand",
    "{token_id}": "999999",
    "{version}": "1",
}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app answers, included routers unfolded."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for item in contexts() if contexts else [route]:
            methods = getattr(item, "methods", None) or {"GET"}  # a mount serves GET
            for method in sorted(set(methods) - {"HEAD"}):
                yield method, item.path


@pytest.fixture(scope="module")
def matrix_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One SQLite site for the whole matrix, with one vacancy in the recruiter's directorate."""
    from sqlmodel import Session

    from models import get_settings
    from models.database import get_engine
    from procedures.setup import initialise

    url = f"sqlite:///{tmp_path_factory.mktemp('authz') / 'idflow.db'}"
    get_settings.cache_clear()
    engine: Engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        session.commit()
    site = Site(engine, url)
    assert site.open("rita", "VAC-1").status_code == 201
    yield site


@pytest.fixture(scope="module")
def signed_in(matrix_site: Site) -> dict[str, TestClient]:
    return {role: matrix_site.browser(name) for role, name in ROLE_USER.items()}


def test_the_matrix_covers_exactly_the_routes_of_the_app(matrix_site: Site) -> None:
    assert set(app_routes(matrix_site.app)) == set(EXPECTED)


def _call(client: TestClient, method: str, path: str, csrf: str | None, headers: Any = None) -> Any:
    for placeholder, value in SAMPLE.items():
        path = path.replace(placeholder, value)
    if path == "/static":
        path = "/static/style.css"
    if method == "GET":
        return client.get(path, headers=headers, follow_redirects=False)
    form = {"csrf": csrf} if csrf else {}
    return client.post(path, headers=headers, data=form, follow_redirects=False)


def _session_client(
    site: Site, signed_in: dict[str, TestClient], role: str | None, path: str
) -> TestClient:
    if role is None:
        return site.browser()
    # Signing out ends the shared session, so that route gets a session of its own.
    return site.browser(ROLE_USER[role]) if path == "/logout" else signed_in[role]


@pytest.mark.parametrize("method,path", sorted(EXPECTED))
@pytest.mark.parametrize("role", [None, *sorted(ALL)])
def test_each_role_gets_exactly_the_routes_it_is_allowed(
    matrix_site: Site, signed_in: dict[str, TestClient], role: str | None, method: str, path: str
) -> None:
    allowed = EXPECTED[(method, path)]
    is_api = path.startswith("/api/")
    if role is not None and is_api:
        client, csrf = matrix_site.client, None
        answer = _call(client, method, path, csrf, matrix_site.auth(ROLE_USER[role]))
    else:
        client = _session_client(matrix_site, signed_in, role, path)
        csrf = csrf_of(client.get("/login").text)
        answer = _call(client, method, path, csrf, {"X-CSRF-Token": csrf})
    status = answer.status_code
    assert status < 500
    if allowed == PUBLIC:
        assert status != 403, f"{role} refused on public {method} {path}"
    elif role is not None and role in allowed:
        assert status not in (401, 403), f"{role} refused on {method} {path}"
    elif role is None:
        assert status == (401 if is_api else 303), f"anonymous let through on {method} {path}"
    else:
        assert status == 403, f"{role} let through on {method} {path} ({status})"


@pytest.mark.parametrize("method,path", sorted(k for k, v in EXPECTED.items() if k[0] == "POST"))
def test_every_form_and_api_change_by_session_needs_the_csrf_token(
    matrix_site: Site, signed_in: dict[str, TestClient], method: str, path: str
) -> None:
    allowed = EXPECTED[(method, path)]
    role = "recruiter" if allowed == PUBLIC else sorted(allowed)[0]
    client = _session_client(matrix_site, signed_in, role, path)
    answer = _call(client, method, path, None)
    assert answer.status_code == 403 and "CSRF" in answer.text
