"""Closed quarters in the web app: P&O closes after a confirmation of what will be frozen, the
dashboard shows each quarter's status and its corrections, the auditor lists the snapshots and
downloads each version, and every page shows when a backdated entry was recorded."""

import hashlib
import json
import re
from typing import Any

from sqlmodel import Session
from test_web_api import Site, csrf_of, site, sqlite_only

from procedures.report_builder import build_report
from workflows.report import render

__all__ = ["site"]  # the fixture, shared with the API tests
Q1_AT = "2025-02-03T09:00:00+01:00"


def _event(site: Site, user: str, vacancy: str, event: str, at: str, **data: Any) -> None:
    body = {"event": event, "data": data, "at": at}
    answer = site.client.post(
        f"/api/vacancies/{vacancy}/events", json=body, headers=site.auth(user)
    )
    assert answer.status_code == 201, answer.text


def _q1(site: Site) -> None:
    """2025Q1 in SOC-OJZ: one text approved, one deviation; VAC-3 is still in its text."""
    for vacancy in ("VAC-1", "VAC-2", "VAC-3"):
        assert site.open("rita", vacancy, at="2025-01-06T09:00:00+01:00").status_code == 201
    _event(site, "rita", "VAC-1", "approve_text", Q1_AT)
    _event(site, "rita", "VAC-2", "deviate_text", Q1_AT)


def _api(site: Site, user: str, method: str, url: str, **kwargs: Any) -> Any:
    answer = site.client.request(method, url, headers=site.auth(user), **kwargs)
    assert answer.status_code == 200, answer.text
    return answer


def test_pno_closes_a_quarter_after_a_confirmation_of_what_will_be_frozen(site: Site) -> None:
    _q1(site)
    browser = site.browser("pia")
    page = browser.get("/kwartalen/2025Q1/vaststellen").text
    assert "versie 1" in page and "beleidsversie 1" in page and "47 directies" in page
    assert "235 regels (directie × indicator)" in page  # every active directorate is listed
    assert "&lt;5" in page  # the figures as they will be published
    listed = _api(site, "pia", "GET", "/api/quarters").json()
    assert [(q["quarter"], q["status"]) for q in listed] == [("2025Q1", "voorlopig")]

    form = {"csrf": csrf_of(page)}
    answer = browser.post("/kwartalen/2025Q1/vaststellen", data=form, follow_redirects=False)
    assert answer.status_code == 303
    quarters = browser.get("/kwartalen").text
    assert "Kwartaal 2025Q1 is vastgesteld (versie 1)." in quarters
    [version] = _api(site, "pia", "GET", "/api/quarters").json()[0]["versions"]
    assert version["closed_by"] == "pia" and version["sha256"] in quarters
    again = browser.post("/kwartalen/2025Q1/vaststellen", data=form, follow_redirects=True)
    assert "was al vastgesteld (versie 1)" in again.text


def test_the_dashboard_shows_each_quarters_status_and_its_corrections(site: Site) -> None:
    _q1(site)
    _api(site, "pia", "POST", "/api/quarters/2025Q1/close")
    _event(site, "rita", "VAC-3", "approve_text", "2025-03-20T09:00:00+01:00")  # backdated
    _event(site, "rita", "VAC-2", "explain", "2025-06-02T09:00:00+02:00", step="text",
           explanation="Spoedvacature")  # fmt: skip
    page = site.browser("pia").get("/dashboard").text
    status = page.split('id="quarters"')[1].split("</section>")[0]
    assert re.search(r"<td>2025Q1</td><td>vastgesteld</td><td>1</td>", status)
    corrections = page.split('id="corrections"')[1].split("</section>")[0]
    cells = re.findall(r"<td>([^<]*)</td>", corrections)
    assert cells == ["2025Q1", "SOC-OJZ – Onderwijs, Jeugd en Zorg", "I2 I&amp;D-vacaturetekst",
                     "+1", "+1", "0", "-1", "+1"]  # fmt: skip


@sqlite_only
def test_the_auditor_lists_the_snapshots_and_downloads_each_version(site: Site) -> None:
    _q1(site)
    _api(site, "pia", "POST", "/api/quarters/2025Q1/close")
    _event(site, "rita", "VAC-3", "approve_text", "2025-03-20T09:00:00+01:00")
    reason = {"reason": "Late import van de ATS-koppeling"}
    _api(site, "adm", "POST", "/api/quarters/2025Q1/reopen", json=reason)
    _api(site, "adm", "POST", "/api/quarters/2025Q1/close")

    page = site.browser("aud").get("/kwartalen").text
    assert page.count('class="version"') == 2 and "Late import van de ATS-koppeling" in page
    assert "/api/reports/2025Q1?format=xlsx&amp;version=1" in page
    assert "/vaststellen" not in page and "heropenen" not in page  # neither for auditors
    versions = []
    for number in (1, 2):
        url = f"/api/reports/2025Q1?format=json&suppress=false&version={number}"
        versions.append(_api(site, "aud", "GET", url).json())
        record = _api(site, "aud", "GET", f"/api/quarters/2025Q1/snapshots/{number}").json()
        canonical = json.dumps(record["content"], sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)  # fmt: skip
        assert hashlib.sha256(canonical.encode()).hexdigest() == record["sha256"]
        assert versions[-1].pop("classification") == "intern, niet publiceren"
        assert record["content"]["internal"]["report"] == versions[-1]
    ojz = [[r for r in v["rows"] if r["directorate"] == "SOC-OJZ" and r["indicator"] == "I2"]
           for v in versions]  # fmt: skip
    assert [row["met"] for [row] in ojz] == [1, 2]
    current = _api(site, "aud", "GET", "/api/reports/2025Q1?format=json").content
    with Session(site.engine) as session:
        assert current.decode() == render(build_report(session, "2025Q1"), "json")


@sqlite_only
def test_restated_figures_and_snapshot_records_are_for_pno_and_auditors_only(site: Site) -> None:
    _q1(site)
    _api(site, "pia", "POST", "/api/quarters/2025Q1/close")
    restated = "/api/reports/2025Q1?format=json&restated=true&suppress=false"
    refused = site.client.get(restated.replace("&suppress=false", ""), headers=site.auth("rita"))
    assert refused.status_code == 403 and "Herberekende cijfers" in refused.json()["detail"]
    assert _api(site, "pia", "GET", restated).json()["restated"] is True
    mine = _api(site, "rita", "GET", "/api/reports/2025Q1?format=json").json()
    assert mine["status"] == "vastgesteld" and mine["cluster_totals"] == []
    assert {row["directorate"] for row in mine["rows"]} == {"SOC-OJZ"}
    record = site.client.get("/api/quarters/2025Q1/snapshots/1", headers=site.auth("rita"))
    assert record.status_code == 403


@sqlite_only
def test_reopening_in_the_web_needs_a_reason_and_says_so_in_dutch(site: Site) -> None:
    _q1(site)
    _api(site, "pia", "POST", "/api/quarters/2025Q1/close")
    browser = site.browser("adm")
    page = browser.get("/kwartalen").text
    assert 'action="/kwartalen/2025Q1/heropenen"' in page
    answer = browser.post(
        "/kwartalen/2025Q1/heropenen", data={"csrf": csrf_of(page), "reason": " "}
    )
    assert answer.status_code == 422 and "Geef de reden van het heropenen op" in answer.text
    assert _api(site, "pia", "GET", "/api/quarters").json()[0]["status"] == "vastgesteld"
    reopened = browser.post(
        "/kwartalen/2025Q1/heropenen", data={"csrf": csrf_of(page), "reason": "Fout in import"}
    )
    assert "is heropend; versie 1 blijft bewaard" in reopened.text


def test_the_vacancy_page_and_the_api_show_when_a_backdated_entry_was_recorded(
    site: Site,
) -> None:
    site.open("rita", "VAC-1", at="2025-01-06T09:00:00+01:00")
    detail = _api(site, "rita", "GET", "/api/vacancies/VAC-1").json()
    [opened] = detail["history"]
    assert opened["at"] == "2025-01-06T09:00:00+01:00"
    assert opened["recorded_at"] > "2026"  # recorded today, dated 2025
    history = site.browser("pia").get("/vacatures/VAC-1").text.split('id="history"')[1]
    assert 'class="backdated"' in history and "(later ingevoerd)" in history
    assert opened["recorded_at"][:16].replace("T", " ") in history
