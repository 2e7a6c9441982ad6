"""The web app's JSON API and forms: the engine behind it, roles, problems, sign-in, CSRF."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.tables import ApiToken, Transition, User
from procedures.accounts import create_user, issue_token
from procedures.policy import default_policy
from web.app import create_app

PASSWORD = "correct-horse-battery"
USERS = {
    "rita": ("recruiter", ["SOC-OJZ"]),
    "rob": ("recruiter", ["SOC-WPI"]),
    "pia": ("pno", []),
    "aud": ("auditor", []),
    "adm": ("admin", []),
}
CHECKLIST = {item: True for item in default_policy().biws_checklist}
TO_CLOSED = [
    ("approve_text", {}),
    ("complete_biws", {"checklist": CHECKLIST}),
    ("submit_shortlist", {"invited": 4, "diverse": 2}),
    ("hire", {"employee": "P-1001", "start_date": "2026-12-01"}),
    ("complete_onboarding", {}),
    ("register_departure", {"leave_date": "2027-06-30", "destination": "pensioen"}),
    ("record_exit_interview", {"held": True, "reasons": ["loopbaan"]}),
]


# The web layer is the same on every database; the tests that write through the engine run on
# both, the rest on SQLite only (PostgreSQL setup costs seconds per test).
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@dataclass
class Site:
    """The app on a test database, with one user (and API token) per role."""

    engine: Engine
    db_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = create_app(self.db_url)
        self.client = TestClient(self.app, base_url="https://testserver")

    def user(self, name: str) -> str:
        """The user's API token; users are created on first use (hashing takes a while)."""
        if name not in self.tokens:
            role, directorates = USERS[name]
            with Session(self.engine) as session:
                user = create_user(session, name, PASSWORD, role, directorates)
                assert user.id is not None
                self.tokens[name] = issue_token(session, user.id, "tests").token
                session.commit()
        return self.tokens[name]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.user(user)}"}

    def open(self, user: str, vacancy: str, directorate: str = "SOC-OJZ", **extra: Any) -> Any:
        body = {"vacancy": vacancy, "directorate": directorate, "scale": 12, "title": "Teamleider"}
        return self.client.post("/api/vacancies", json=body | extra, headers=self.auth(user))

    def send(self, user: str, vacancy: str, event: str, data: dict[str, Any] | None = None) -> Any:
        body = {"event": event, "data": data or {}}
        url = f"/api/vacancies/{vacancy}/events"
        return self.client.post(url, json=body, headers=self.auth(user))

    def browser(self, user: str | None = None) -> TestClient:
        """A client with its own cookie jar, signed in through the login form."""
        client = TestClient(self.app, base_url="https://testserver")
        if user is not None:
            self.user(user)
            answer = sign_in(client, user, PASSWORD)
            assert answer.status_code == 303, answer.text
        return client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str) -> Any:
    token = csrf_of(client.get("/login").text)
    form = {"username": username, "password": password, "csrf": token, "next": "/"}
    return client.post("/login", data=form, follow_redirects=False)


@pytest.fixture
def site(engine: Engine, db_url: str) -> Site:
    return Site(engine, db_url)


def transitions(engine: Engine, vacancy: str) -> list[Transition]:
    with Session(engine) as session:
        rows = session.exec(select(Transition).where(Transition.vacancy == vacancy))
        return list(rows)


# -- the API drives the engine ------------------------------------------------------------


def test_a_recruiter_takes_a_vacancy_from_open_to_closed_through_the_api(site: Site) -> None:
    assert site.open("rita", "VAC-1").status_code == 201
    for event, data in TO_CLOSED:
        answer = site.send("rita", "VAC-1", event, data)
        assert answer.status_code == 201, answer.text
    detail = site.client.get("/api/vacancies/VAC-1", headers=site.auth("rita")).json()
    assert detail["state"] == "closed"
    assert set(detail["outcomes"].values()) == {"met"}
    assert {(h["actor"], h["origin"]) for h in detail["history"]} == {("rita", "web")}


@sqlite_only
def test_the_diverse_count_reaches_the_rooney_check_but_is_not_stored(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "approve_text")
    site.send("rita", "VAC-1", "complete_biws", {"checklist": CHECKLIST})
    answer = site.send("rita", "VAC-1", "submit_shortlist", {"invited": 4, "diverse": 1})
    assert answer.json()["round"] == 2  # 1 of 4 is below the share: a new round
    stored = [row.data for row in transitions(site.engine, "VAC-1")]
    assert all("diverse" not in data for data in stored)


@sqlite_only
def test_a_repeated_event_id_is_answered_as_a_duplicate(site: Site) -> None:
    first = site.open("rita", "VAC-1", id="e-1", at="2026-11-02T10:00:00+01:00")
    again = site.open("rita", "VAC-1", id="e-1", at="2026-11-02T10:00:00+01:00")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate"


def test_a_refused_event_is_a_dutch_problem_detail_and_stores_nothing(site: Site) -> None:
    site.open("rita", "VAC-1")
    answer = site.send("rita", "VAC-1", "deviate_biws", {"explanation": "x"})
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 409 and problem["title"] == "Conflict"
    assert "niet toegestaan" in problem["detail"] and "approve_text" in problem["detail"]
    assert len(transitions(site.engine, "VAC-1")) == 1


@sqlite_only
def test_bad_event_data_names_the_field_and_what_is_allowed(site: Site) -> None:
    site.open("rita", "VAC-1")
    answer = site.send("rita", "VAC-1", "deviate_text", {"uitleg": "x"})
    assert answer.status_code == 422
    assert "uitleg: is geen toegestaan veld" in answer.json()["detail"]
    assert "toegestane velden: explanation" in answer.json()["detail"]


@sqlite_only
def test_a_malformed_request_body_is_a_problem_detail_too(site: Site) -> None:
    answer = site.client.post("/api/vacancies", json={"vacancy": 5}, headers=site.auth("rita"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "directorate: ontbreekt" in answer.json()["detail"]


@sqlite_only
def test_a_scale_below_the_minimum_is_refused_in_dutch(site: Site) -> None:
    answer = site.open("rita", "VAC-1", scale=10)
    assert answer.status_code == 422
    assert "alleen vacatures vanaf schaal 12" in answer.json()["detail"]


@sqlite_only
def test_the_list_filters_by_state_search_and_awaiting_explanation(site: Site) -> None:
    site.open("rita", "VAC-1", title="Teamleider Jeugd")
    site.open("rita", "VAC-2", title="Manager Zorg")
    site.send("rita", "VAC-2", "deviate_text")  # no explanation: not_met
    get = lambda query: site.client.get(f"/api/vacancies?{query}", headers=site.auth("rita"))  # noqa: E731
    names = lambda query: [row["vacancy"] for row in get(query).json()]  # noqa: E731
    assert names("state=text") == ["VAC-1"]
    assert names("search=zorg") == ["VAC-2"]
    assert names("awaiting_explanation=true") == ["VAC-2"]
    assert sorted(names("")) == ["VAC-1", "VAC-2"]


def test_an_import_upload_goes_through_the_engine_and_lists_refused_lines(site: Site) -> None:
    lines = [
        {"id": "i-1", "vacancy": "VAC-9", "event": "open", "at": "2025-01-06T09:30:00+01:00",
         "actor": "ats", "data": {"directorate": "SOC-OJZ", "scale": 12, "title": "T",
                                  "kind": "external"}},
        {"id": "i-2", "vacancy": "VAC-9", "event": "approve_text", "at": "2025-01-07T09:30:00",
         "actor": "ats", "data": {}},
        {"id": "i-3", "vacancy": "VAC-9", "event": "hire", "at": "2025-01-08T09:30:00",
         "actor": "ats", "data": {}},
    ]  # fmt: skip
    content = "\n".join(json.dumps(line) for line in lines).encode()
    files = {"file": ("events.jsonl", content, "application/x-ndjson")}
    answer = site.client.post("/api/imports", files=files, headers=site.auth("rita"))
    summary = answer.json()
    assert (summary["applied"], summary["duplicate"]) == (2, 0)
    assert [r["line"] for r in summary["refused"]] == [3]


# -- roles and scope ----------------------------------------------------------------------


def test_a_recruiter_sees_and_advances_only_the_own_directorates(site: Site) -> None:
    site.open("rita", "VAC-1")
    rob = site.auth("rob")
    assert site.client.get("/api/vacancies", headers=rob).json() == []
    hidden = site.client.get("/api/vacancies/VAC-1", headers=rob)
    missing = site.client.get("/api/vacancies/VAC-404", headers=rob)
    assert hidden.status_code == missing.status_code == 404
    assert "valt buiten uw directies" in hidden.json()["detail"]
    assert site.send("rob", "VAC-1", "approve_text").status_code == 404
    assert site.open("rob", "VAC-2", directorate="SOC-OJZ").status_code == 422
    assert len(transitions(site.engine, "VAC-1")) == 1


@sqlite_only
def test_an_import_line_outside_the_own_directorates_is_refused(site: Site) -> None:
    line = {"id": "i-1", "vacancy": "VAC-9", "event": "open", "at": "2025-01-06T09:30:00",
            "actor": "ats", "data": {"directorate": "SOC-OJZ", "scale": 12, "title": "T",
                                     "kind": "external"}}  # fmt: skip
    files = {"file": ("e.jsonl", json.dumps(line).encode(), "application/x-ndjson")}
    summary = site.client.post("/api/imports", files=files, headers=site.auth("rob")).json()
    assert summary["applied"] == 0
    assert "valt buiten uw directies" in summary["refused"][0]["reason"]


def _in_q1(site: Site, user: str, vacancy: str, directorate: str) -> None:
    """A text approved in 2025Q1 (a quarter that can be closed)."""
    site.open(user, vacancy, directorate=directorate, at="2025-01-06T09:00:00+01:00")
    body = {"event": "approve_text", "data": {}, "at": "2025-02-03T09:00:00+01:00"}
    answer = site.client.post(f"/api/vacancies/{vacancy}/events", json=body,
                              headers=site.auth(user))  # fmt: skip
    assert answer.status_code == 201, answer.text


def _close_q1(site: Site) -> None:
    answer = site.client.post("/api/quarters/2025Q1/close", headers=site.auth("pia"))
    assert answer.status_code == 200, answer.text


def test_report_downloads_hold_only_the_recruiters_own_directorates(site: Site) -> None:
    _in_q1(site, "rita", "VAC-1", "SOC-OJZ")
    _in_q1(site, "rob", "VAC-2", "SOC-WPI")
    url = "/api/reports/2025Q1?format=json"
    provisional = site.client.get(url, headers=site.auth("rita"))
    assert provisional.status_code == 422 and "voorlopig" in provisional.json()["detail"]
    _close_q1(site)
    mine = site.client.get(url, headers=site.auth("rita")).json()
    everyone = site.client.get(url + "&suppress=false", headers=site.auth("pia")).json()
    assert {row["directorate"] for row in mine["rows"]} == {"SOC-OJZ"}
    assert mine["suppressed"] is True and mine["cluster_totals"] == []
    counted = [row for row in everyone["rows"] if row["total"]]
    assert {row["directorate"] for row in counted} == {"SOC-OJZ", "SOC-WPI"}
    assert counted[0]["met"] == 1 and everyone["classification"] == "intern, niet publiceren"
    csv_text = site.client.get(url.replace("json", "csv"), headers=site.auth("rita"))
    assert "SOC-WPI" not in csv_text.text and "SOC-OJZ" in csv_text.text


@sqlite_only
def test_the_municipal_xlsx_and_html_reports_are_not_for_recruiters(site: Site) -> None:
    from workflows.report import FORMATS

    _in_q1(site, "rob", "VAC-2", "SOC-WPI")
    _close_q1(site)
    for fmt in [f for f in ("xlsx", "html") if f in FORMATS]:
        url = f"/api/reports/2025Q1?format={fmt}"
        refused = site.client.get(url, headers=site.auth("rita"))
        assert refused.status_code == 403 and "JSON of CSV" in refused.json()["detail"]
        answer = site.client.get(url, headers=site.auth("pia"))
        assert answer.status_code == 200
        assert answer.headers["content-disposition"].endswith(f'.{fmt}"')
        if fmt == "html":
            assert "Werk, Participatie en Inkomen" in answer.text


@sqlite_only
def test_unsuppressed_figures_are_for_pno_and_auditors_only(site: Site) -> None:
    url = "/api/reports/2025Q1?format=csv&suppress=false"
    assert site.client.get(url, headers=site.auth("rita")).status_code == 403
    assert site.client.get(url, headers=site.auth("aud")).status_code == 200


@sqlite_only
def test_pno_downloads_the_kwartaalrapportage_as_xlsx_and_html(site: Site) -> None:
    _close_q1(site)
    xlsx = site.client.get("/api/reports/2025Q1?format=xlsx", headers=site.auth("pia"))
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    html = site.client.get("/api/reports/2025Q1?format=html", headers=site.auth("pia"))
    assert html.status_code == 200 and "Kwartaalrapportage" in html.text
    assert 'filename="kwartaalrapportage-2025Q1.html"' in html.headers["content-disposition"]


@sqlite_only
def test_an_invalid_quarter_is_refused_with_the_expected_form(site: Site) -> None:
    answer = site.client.get("/api/reports/2025-1", headers=site.auth("pia"))
    assert answer.status_code == 422 and "JJJJQn" in answer.json()["detail"]


@sqlite_only
def test_alerts_list_the_outbox_for_pno(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "deviate_text")
    alerts = site.client.get("/api/alerts", headers=site.auth("pia")).json()
    assert [(a["kind"], a["vacancy"]) for a in alerts] == [("not_met", "VAC-1")]


@sqlite_only
def test_the_auditor_verifies_the_audit_log(site: Site) -> None:
    site.open("rita", "VAC-1")
    answer = site.client.get("/api/audit/verify", headers=site.auth("aud")).json()
    assert answer == {
        "intact": True,
        "checked": 1,
        "breaks": [],
        "snapshots_checked": 0,
        "snapshot_breaks": [],
        "year_reports_checked": 0,
    }


# -- accounts, sign-in, sessions ----------------------------------------------------------


@sqlite_only
def test_passwords_are_argon2_hashes_and_tokens_are_stored_hashed(site: Site) -> None:
    site.user("rita")
    with Session(site.engine) as session:
        user = session.exec(select(User).where(User.username == "rita")).one()
        hashes = set(session.exec(select(ApiToken.token_hash)))
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    token = site.user("rita")
    assert token not in hashes and hashlib.sha256(token.encode()).hexdigest() in hashes


@sqlite_only
def test_sign_in_answers_the_same_for_unknown_users_and_wrong_passwords(site: Site) -> None:
    site.user("rita")
    unknown = sign_in(site.browser(), "nobody", PASSWORD)
    wrong = sign_in(site.browser(), "rita", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    message = "Onbekende gebruikersnaam of onjuist wachtwoord."
    assert message in unknown.text and message in wrong.text


@sqlite_only
def test_sign_in_is_refused_after_too_many_failures_even_with_the_right_password(
    site: Site,
) -> None:
    site.user("rita")
    client = site.browser()
    for _ in range(5):
        assert sign_in(client, "rita", "wrong-password").status_code == 401
    blocked = sign_in(client, "rita", PASSWORD)
    assert blocked.status_code == 429 and "Te veel mislukte" in blocked.text


@sqlite_only
def test_the_session_cookie_is_signed_http_only_secure_and_same_site(site: Site) -> None:
    site.user("rita")
    client = site.browser()
    answer = sign_in(client, "rita", PASSWORD)
    cookie = answer.headers["set-cookie"].lower()
    assert "idflow_session=" in cookie and "httponly" in cookie
    assert "secure" in cookie and "samesite=lax" in cookie
    assert client.get("/vacatures", follow_redirects=False).status_code == 200
    [stored] = [c for c in client.cookies.jar if c.name == "idflow_session"]
    value = str(stored.value)
    tampered = value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB")
    # The same cookie changed, not a second one beside it (another domain would be ignored).
    client.cookies.set("idflow_session", tampered, domain=stored.domain, path=stored.path)
    assert client.get("/vacatures", follow_redirects=False).status_code == 303


@sqlite_only
def test_a_form_without_the_csrf_token_is_refused_and_stores_nothing(site: Site) -> None:
    client = site.browser("rita")
    form = {"vacancy": "VAC-1", "directorate": "SOC-OJZ", "scale": "12", "title": "T"}
    answer = client.post("/vacatures", data=form | {"kind": "external"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    page = client.get("/vacatures").text
    answer = client.post("/vacatures", data=form | {"kind": "external", "csrf": csrf_of(page)})
    assert answer.status_code == 200 and "VAC-1 is geopend" in answer.text
    assert len(transitions(site.engine, "VAC-1")) == 1


@sqlite_only
def test_the_api_with_a_session_cookie_needs_the_csrf_header(site: Site) -> None:
    client = site.browser("rita")
    body = {"vacancy": "VAC-1", "directorate": "SOC-OJZ", "scale": 12, "title": "T"}
    assert client.post("/api/vacancies", json=body).status_code == 403
    header = {"X-CSRF-Token": csrf_of(client.get("/vacatures").text)}
    assert client.post("/api/vacancies", json=body, headers=header).status_code == 201


@sqlite_only
def test_users_are_added_from_the_command_line(site: Site) -> None:
    """``idflow users add`` (run in-process on the test database)."""
    from typer.testing import CliRunner

    from idflow.cli import app

    runner = CliRunner()
    args = ["users", "add", "nora", "--role", "recruiter", "--directorate", "SOC-OJZ"]
    result = runner.invoke(app, args, env={"IDFLOW_NEW_USER_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert sign_in(site.browser(), "nora", PASSWORD).status_code == 303
    refused = runner.invoke(app, ["users", "add", "x", "--role", "boss"], env={
        "IDFLOW_NEW_USER_PASSWORD": PASSWORD})  # fmt: skip
    assert refused.exit_code != 0


# -- pages: bad input inline ---------------------------------------------------------------


@sqlite_only
def test_a_refused_step_shows_inline_and_keeps_what_was_typed(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "approve_text")
    site.send("rita", "VAC-1", "complete_biws", {"checklist": CHECKLIST})
    client = site.browser("rita")
    token = csrf_of(client.get("/vacatures/VAC-1").text)
    form = {"event": "submit_shortlist", "invited": "3", "diverse": "5", "csrf": token}
    answer = client.post("/vacatures/VAC-1", data=form)
    assert answer.status_code == 422
    assert 'role="alert">Het aantal kandidaten' in answer.text
    assert 'value="3"' in answer.text and 'value="5"' in answer.text
    assert len(transitions(site.engine, "VAC-1")) == 3


@sqlite_only
def test_an_incomplete_biws_checklist_names_the_missing_items_inline(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "approve_text")
    client = site.browser("rita")
    token = csrf_of(client.get("/vacatures/VAC-1").text)
    form = {"event": "complete_biws", "checklist": ["diverse_committee"], "csrf": token}
    answer = client.post("/vacatures/VAC-1", data=form)
    assert answer.status_code == 422 and "decision_justified" in answer.text
    assert 'value="diverse_committee" checked' in answer.text


@sqlite_only
def test_the_open_form_keeps_the_title_when_the_scale_is_refused(site: Site) -> None:
    client = site.browser("rita")
    token = csrf_of(client.get("/vacatures").text)
    form = {"vacancy": "VAC-7", "directorate": "SOC-OJZ", "scale": "9", "title": "Adviseur",
            "kind": "internal", "csrf": token}  # fmt: skip
    answer = client.post("/vacatures", data=form)
    assert answer.status_code == 422 and "vanaf schaal 12" in answer.text
    assert 'value="Adviseur"' in answer.text and 'value="VAC-7"' in answer.text


@sqlite_only
def test_the_vacancy_page_offers_exactly_the_events_allowed_now(site: Site) -> None:
    site.open("rita", "VAC-1")
    page = site.browser("rita").get("/vacatures/VAC-1").text
    offered = re.findall(r'name="event" value="([a-z_]+)"', page)
    assert offered == ["approve_text", "deviate_text", "cancel"]
    assert 'aria-current="step"' in page


@sqlite_only
def test_the_shortlist_form_says_the_diverse_count_is_not_stored(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "approve_text")
    site.send("rita", "VAC-1", "complete_biws", {"checklist": CHECKLIST})
    page = site.browser("rita").get("/vacatures/VAC-1").text
    assert "wordt niet opgeslagen" in page


@sqlite_only
def test_a_deviation_is_explained_later_through_the_explain_form(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "deviate_text")
    client = site.browser("rita")
    page = client.get("/vacatures/VAC-1").text
    assert re.findall(r'<option value="([a-z_]+)"', page.split('id="event-explain"')[1])[:1] == [
        "text"
    ]
    form = {"event": "explain", "step": "text", "explanation": "Tekst was al inclusief.",
            "csrf": csrf_of(page)}  # fmt: skip
    answer = client.post("/vacatures/VAC-1", data=form)
    assert answer.status_code == 200 and "afwijking toegelicht" in answer.text
    assert 'id="event-explain"' not in answer.text  # nothing awaits an explanation any more


@sqlite_only
def test_text_typed_by_users_is_escaped_on_the_pages(site: Site) -> None:
    site.open("rita", "VAC-1", title="<script>alert(1)</script>")
    page = site.browser("rita").get("/vacatures/VAC-1").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


@sqlite_only
def test_the_dashboard_shows_the_quarter_against_the_norm(site: Site) -> None:
    site.open("rita", "VAC-1")
    site.send("rita", "VAC-1", "deviate_text")
    page = site.browser("pia").get("/dashboard").text
    assert "Norm 100% voldaan" in page
    assert re.search(r'class="cell below_norm"[^>]*>0%', page)
    assert "VAC-1" in page  # awaiting explanation and in the alerts


# -- the inclusive text check on the vacancy page ------------------------------------------

EXCLUSIONARY = "Wij zoeken een starter voor ons jonge team. Je moedertaal is Nederlands.\n"


@sqlite_only
def test_the_text_check_shows_its_findings_on_the_vacancy_page_and_stores_nothing(
    site: Site,
) -> None:
    site.open("rita", "VAC-1")
    client = site.browser("rita")
    page = client.get("/vacatures/VAC-1").text
    assert 'formaction="/vacatures/VAC-1/tekstcheck"' in page
    form = {"event": "approve_text", "text": EXCLUSIONARY, "csrf": csrf_of(page)}
    answer = client.post("/vacatures/VAC-1/tekstcheck", data=form)
    assert answer.status_code == 200
    assert 'id="textcheck-findings"' in answer.text
    for phrase in ("starter", "moedertaal"):
        assert phrase in answer.text.split('id="textcheck-findings"')[1]
    assert "Flesch-Douma" in answer.text
    assert "Wij zoeken een starter" in answer.text  # the typed text is kept in the form
    assert len(transitions(site.engine, "VAC-1")) == 1


@sqlite_only
def test_an_empty_text_check_is_refused_inline(site: Site) -> None:
    site.open("rita", "VAC-1")
    client = site.browser("rita")
    form = {
        "event": "approve_text",
        "text": "  ",
        "csrf": csrf_of(client.get("/vacatures/VAC-1").text),
    }
    answer = client.post("/vacatures/VAC-1/tekstcheck", data=form)
    assert answer.status_code == 422 and "Plak eerst de vacaturetekst" in answer.text


@sqlite_only
def test_approving_with_the_text_from_the_page_keeps_the_check_as_evidence(site: Site) -> None:
    site.open("rita", "VAC-1")
    client = site.browser("rita")
    page = client.get("/vacatures/VAC-1").text
    event_id = re.search(r'name="event_id" value="([^"]+)"', page)
    assert event_id is not None
    text = "Voor deze functie zoeken wij een ervaren adviseur die graag samenwerkt.\n"
    form = {"event": "approve_text", "text": text, "csrf": csrf_of(page), "event_id": event_id[1]}
    assert client.post("/vacatures/VAC-1", data=form, follow_redirects=False).status_code == 303
    approved = transitions(site.engine, "VAC-1")[-1]
    assert approved.event == "approve_text"
    evidence = approved.data["text_check"]
    assert evidence["exclusionary"] == 0 and evidence["wordlist_version"]
    assert evidence["text_sha256"] == hashlib.sha256(text.strip().encode()).hexdigest()


@sqlite_only
def test_the_api_runs_the_text_check_for_scripts(site: Site) -> None:
    answer = site.client.post(
        "/api/text-check", json={"text": EXCLUSIONARY}, headers=site.auth("rita")
    )
    assert answer.status_code == 200
    assert {f["phrase"].lower() for f in answer.json()["findings"]} >= {"starter"}
    empty = site.client.post("/api/text-check", json={"text": ""}, headers=site.auth("rita"))
    assert empty.status_code == 422


# -- review fixes: actor, scope leaks, time stamps, labels, errors, uploads, roll-up ---------


def _upload(site: Site, user: str, lines: list[dict[str, Any]]) -> Any:
    content = "\n".join(json.dumps(line) for line in lines).encode()
    files = {"file": ("events.jsonl", content, "application/x-ndjson")}
    return site.client.post("/api/imports", files=files, headers=site.auth(user))


def _open_line(event_id: str, vacancy: str, **extra: Any) -> dict[str, Any]:
    data = {"directorate": "SOC-OJZ", "scale": 12, "title": "T", "kind": "external"}
    return {"id": event_id, "vacancy": vacancy, "event": "open",
            "at": "2025-01-06T09:30:00+01:00", "actor": "ats", "data": data} | extra  # fmt: skip


@sqlite_only
def test_an_uploaded_line_is_recorded_with_the_signed_in_user_as_actor(site: Site) -> None:
    answer = _upload(site, "rita", [_open_line("i-1", "VAC-9", actor="de burgemeester")])
    assert answer.json()["applied"] == 1, answer.text
    assert [row.actor for row in transitions(site.engine, "VAC-9")] == ["rita"]


def test_a_recruiter_learns_nothing_of_vacancies_outside_the_own_directorates(site: Site) -> None:
    rob = site.auth("rob")
    body = {"vacancy": "VAC-W", "directorate": "SOC-WPI", "scale": 12, "title": "Geheim",
            "id": "rob-1"}  # fmt: skip
    assert site.client.post("/api/vacancies", json=body, headers=rob).status_code == 201
    assert site.open("rita", "VAC-1").status_code == 201
    secrets = ("VAC-W", "SOC-WPI", "Geheim", "toestand", "bestaat al", "'text'", "open ")

    taken = site.open("rita", "VAC-W")  # the number is in use in rob's directorate
    assert taken.status_code == 409, taken.text
    assert taken.json()["detail"] == (
        "Vacaturenummer VAC-W is niet beschikbaar; kies een ander nummer."
    )
    reused = [
        site.open("rita", "VAC-2", id="rob-1"),  # rob's event id, on a new vacancy
        site.client.post(
            "/api/vacancies/VAC-1/events",
            json={"event": "approve_text", "id": "rob-1"},
            headers=site.auth("rita"),
        ),
    ]
    for answer in reused:
        assert answer.status_code == 409, answer.text
        detail = answer.json()["detail"]
        assert detail == "Gebeurtenis-id 'rob-1' is niet beschikbaar; kies een nieuw id."
        assert not any(secret in detail for secret in secrets)

    # The same through an upload.
    lines = [_open_line("i-1", "VAC-W"), _open_line("rob-1", "VAC-3")]
    summary = _upload(site, "rita", lines).json()
    assert summary["applied"] == 0
    reasons = [r["reason"] for r in summary["refused"]]
    assert reasons == [
        "Vacaturenummer VAC-W is niet beschikbaar; kies een ander nummer.",
        "Gebeurtenis-id 'rob-1' is niet beschikbaar; kies een nieuw id.",
    ]
    assert len(transitions(site.engine, "VAC-W")) == 1
    assert transitions(site.engine, "VAC-2") == transitions(site.engine, "VAC-3") == []
    # A vacancy in another directorate answers exactly as a missing one.
    hidden, missing = (site.send("rita", v, "approve_text") for v in ("VAC-W", "VAC-404"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("VAC-W", "X") == (
        missing.json()["detail"].replace("VAC-404", "X")
    )
    step = {"event": "approve_text", "at": "2025-01-07T09:30:00+01:00", "actor": "ats", "data": {}}
    lines = [step | {"id": "i-2", "vacancy": "VAC-W"}, step | {"id": "i-3", "vacancy": "VAC-404"}]
    hidden_line, missing_line = (
        r["reason"] for r in _upload(site, "rita", lines).json()["refused"]
    )
    assert hidden_line.replace("VAC-W", "X") == missing_line.replace("VAC-404", "X")
    # A number already used in the recruiter's own directorate may still say what it is.
    own = site.open("rita", "VAC-1")
    assert own.status_code == 409 and "bestaat al" in own.json()["detail"]


@sqlite_only
@pytest.mark.parametrize("at", [20250106, 1736150400, "1736150400", "gisteren", ""])
def test_the_time_of_an_event_is_iso_8601_text_never_unix_time(site: Site, at: Any) -> None:
    site.open("rita", "VAC-1")
    answers = [
        site.open("rita", "VAC-2", at=at),
        site.client.post(
            "/api/vacancies/VAC-1/events",
            json={"event": "approve_text", "at": at},
            headers=site.auth("rita"),
        ),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "at: " in answer.json()["detail"] and "ISO 8601" in answer.json()["detail"]
    assert transitions(site.engine, "VAC-2") == []
    assert len(transitions(site.engine, "VAC-1")) == 1


@sqlite_only
def test_an_iso_basic_date_is_read_as_that_date_never_as_unix_time(site: Site) -> None:
    # "20250106" is ISO 8601's basic form of 6 January 2025; a date-time field of the request
    # model read it as seconds since 1970. The event parser decides: that date, or a refusal.
    answer = site.open("rita", "VAC-1", at="20250106")
    if answer.status_code == 201:
        assert transitions(site.engine, "VAC-1")[0].at.year == 2025
    else:
        assert answer.status_code == 422 and "ISO 8601" in answer.json()["detail"]
    stamped = site.open("rita", "VAC-2", at="2025-01-06T09:30:00+01:00")
    assert stamped.status_code == 201
    assert transitions(site.engine, "VAC-2")[0].at.isoformat()[:10] == "2025-01-06"


@sqlite_only
def test_the_dashboard_and_history_speak_dutch_not_codes(site: Site) -> None:
    from models import Outbox

    site.open("rita", "VAC-1", kind="internal")
    site.send("rita", "VAC-1", "deviate_text")  # a not_met alert, pending
    with Session(site.engine) as session:
        session.add(Outbox(cause="below_norm:2025Q1:SOC-OJZ", kind="below_norm", immediate=True,
                           directorate="SOC-OJZ", status="delivered",
                           created_at=datetime.now(UTC)))  # fmt: skip
        session.commit()
    page = site.browser("pia").get("/dashboard").text
    alerts = page.split('id="alerts"')[1].split("</section>")[0]
    assert "directie onder de norm" in alerts and "afwijking zonder toelichting" in alerts
    assert "verzonden" in alerts and "nog niet verdeeld" in alerts
    for code in ("below_norm", "not_met", "delivered", "pending", "routed", "failed"):
        assert f">{code}<" not in alerts
    assert "vrijgegeven" not in page and "losgelaten" in page
    history = site.browser("rita").get("/vacatures/VAC-1").text.split('id="history"')[1]
    assert "Werving: intern" in history and "internal" not in history


def test_the_web_says_losgelaten_for_a_released_rooney_rule_like_the_reports() -> None:
    from procedures.report import OUTCOME_LABELS as REPORT
    from web.views import OUTCOME_LABELS

    assert OUTCOME_LABELS["released"].startswith(REPORT["released"])
    assert "vrijgegeven" not in " ".join(str(v) for v in OUTCOME_LABELS.values())


@sqlite_only
def test_a_bad_policy_is_refused_in_dutch(site: Site) -> None:
    answer = site.client.post("/api/policy", json={"rooney_shar": 0.5}, headers=site.auth("adm"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    detail = answer.json()["detail"]
    assert detail.startswith("Ongeldige beleidsversie: ")
    assert "rooney_shar: is geen toegestaan veld" in detail and "ontbreekt" in detail
    assert "Field required" not in detail and "validation error" not in detail


@sqlite_only
def test_unsuppressed_figures_follow_the_permission_table(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from procedures.access import PERMISSIONS, Permission

    monkeypatch.setitem(PERMISSIONS, "report_unsuppressed", Permission(frozenset({"pno"})))
    url = "/api/reports/2025Q1?format=csv&suppress=false"
    assert site.client.get(url, headers=site.auth("aud")).status_code == 403
    assert site.client.get(url, headers=site.auth("pia")).status_code == 200


@sqlite_only
def test_an_unexpected_error_is_a_dutch_500_without_its_text(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("geheim: SELECT * FROM app_user")

    site.app.add_api_route("/api/kapot", broken)
    site.app.add_api_route("/kapot", broken)
    client = TestClient(site.app, base_url="https://testserver", raise_server_exceptions=False)
    api = client.get("/api/kapot")
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["title"] == "Interne fout" and "beheerder" in api.json()["detail"]
    page = client.get("/kapot")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Interne fout" in page.text
    assert "geheim" not in api.text + page.text
    assert "geheim: SELECT" in caplog.text  # logged on the server


@sqlite_only
@pytest.mark.parametrize("name", ["events.jsonl", "events.csv"])
def test_an_upload_that_is_not_utf8_is_refused_in_dutch(site: Site, name: str) -> None:
    # Needs workflows.importer to refuse undecodable files with InvalidInput.
    content = "id,vacancy,event,at,actor,data\nx,VAC-é,open,,,\n".encode("latin-1")
    files = {"file": (name, content, "text/plain")}
    answer = site.client.post("/api/imports", files=files, headers=site.auth("rita"))
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "UTF-8" in answer.json()["detail"]


@sqlite_only
def test_an_oversized_upload_is_refused_whole_not_cut_off(site: Site) -> None:
    from procedures.organisation import sample_csv
    from procedures.queries import directorate_choices

    site.app.state.settings = site.app.state.settings.model_copy(update={"upload_max_bytes": 300})
    with Session(site.engine) as session:
        before = directorate_choices(session)
    organisation = sample_csv().encode()
    assert len(organisation) > 300
    files = {"file": ("org.csv", organisation, "text/csv")}
    answer = site.client.post("/api/organisation", files=files, headers=site.auth("adm"))
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "te groot" in answer.json()["detail"] and "idflow org load" in answer.json()["detail"]
    with Session(site.engine) as session:
        assert directorate_choices(session) == before
    lines = [_open_line(f"i-{n}", f"VAC-{n}") for n in range(5)]
    content = "\n".join(json.dumps(line) for line in lines).encode()
    files = {"file": ("events.jsonl", content, "application/x-ndjson")}
    answer = site.client.post("/api/imports", files=files, headers=site.auth("rita"))
    assert answer.status_code == 413 and "idflow import" in answer.json()["detail"]


@sqlite_only
def test_the_dashboard_rolls_up_in_its_own_transaction_before_reading(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    import procedures.tallies
    import web.views

    seen: dict[str, Any] = {}
    roll_up, overview = procedures.tallies.roll_up, web.views.quarters_figures

    def spy_roll_up(session: Session, *args: Any, **kwargs: Any) -> Any:
        seen["roll_up"] = session
        return roll_up(session, *args, **kwargs)

    def spy_overview(session: Session, *args: Any, **kwargs: Any) -> Any:
        rolled = seen["roll_up"]
        seen["separate"] = rolled is not session and not rolled.in_transaction()
        return overview(session, *args, **kwargs)

    monkeypatch.setattr(web.views, "roll_up", spy_roll_up)
    monkeypatch.setattr(web.views, "quarters_figures", spy_overview)
    assert site.browser("pia").get("/dashboard").status_code == 200
    assert seen["separate"] is True
