"""Every entry point (JSON API, web forms, CLI, import) follows one set of input rules:
strict types, documented limits with Dutch refusals, and retries that are duplicates."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from test_web_api import Site, csrf_of, transitions
from typer.testing import CliRunner

from procedures.fields import LIMITS
from workflows.importer import import_events, read_lines

IDFLOW = str(Path(sys.executable).with_name("idflow"))
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
ENGLISH = re.compile(r"Input should|Field required|valid integer|fractional|validation error")


@pytest.fixture
def site(engine: Engine, db_url: str) -> Site:
    return Site(engine, db_url)


def _idflow(*args: str) -> subprocess.CompletedProcess[str]:
    # IDFLOW_DATABASE_URL is the test database (the db_url fixture sets it).
    return subprocess.run([IDFLOW, *args], env=os.environ, capture_output=True, text=True)


def _import_line(engine: Engine, tmp_path: Path, line: dict[str, Any]) -> list[tuple[int, str]]:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    return import_events(engine, read_lines(str(path))).refused


def _line(vacancy: str, event: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": f"{vacancy}-{event}", "vacancy": vacancy, "event": event,
            "at": "2025-01-06T09:30:00+01:00", "actor": "ats", "data": data} | extra  # fmt: skip


# -- 2. retrying is safe ---------------------------------------------------------------------


def test_the_same_idflow_open_with_its_id_twice_is_a_duplicate_and_exits_0(engine: Engine) -> None:
    args = ["open", "VAC-R1", "--directorate", "SOC-OJZ", "--scale", "12", "--title", "T"]
    first = _idflow(*args, "--id", "x1")
    again = _idflow(*args, "--id", "x1")
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert "dubbel" in again.stdout
    advanced = [_idflow("advance", "VAC-R1", "deviate_text", "--id", "x2") for _ in range(2)]
    assert [a.returncode for a in advanced] == [0, 0] and "dubbel" in advanced[1].stdout
    rows = sorted(transitions(engine, "VAC-R1"), key=lambda row: row.seq)
    assert [row.event for row in rows] == ["open", "deviate_text"]


def test_a_retry_without_at_through_the_api_is_a_duplicate_with_the_first_time(site: Site) -> None:
    first = site.open("rita", "VAC-1", id="api-1")
    again = site.open("rita", "VAC-1", id="api-1")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    body = {"event": "deviate_text", "data": {"explanation": "Spoed"}, "id": "api-2"}
    url, headers = "/api/vacancies/VAC-1/events", site.auth("rita")
    answers = [site.client.post(url, json=body, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 200]
    assert answers[1].json()["status"] == "duplicate"
    rows = transitions(site.engine, "VAC-1")
    assert len(rows) == 2  # the first application's time stands
    other = site.client.post(url, json=body | {"data": {}}, headers=headers)
    assert other.status_code == 409 and "al gebruikt" in other.json()["detail"]


def _event_id(page: str) -> str:
    found = re.search(r'name="event_id" value="([^"]+)"', page)
    assert found is not None, "the form carries no event id"
    return found[1]


@sqlite_only
def test_a_double_submitted_step_form_is_applied_once(site: Site) -> None:
    site.open("rita", "VAC-1")
    browser = site.browser("rita")
    page = browser.get("/vacatures/VAC-1").text
    step = {"csrf": csrf_of(page), "event_id": _event_id(page), "event": "deviate_text",
            "explanation": "Spoed", "expected_version": "1"}  # fmt: skip
    answers = [browser.post("/vacatures/VAC-1", data=step, follow_redirects=False) for _ in "12"]
    assert [a.status_code for a in answers] == [303, 303]
    events = [row.event for row in sorted(transitions(site.engine, "VAC-1"), key=lambda r: r.seq)]
    assert events == ["open", "deviate_text"]


@sqlite_only
def test_a_double_submitted_open_form_is_applied_once(site: Site) -> None:
    browser = site.browser("rita")
    page = browser.get("/vacatures").text
    form = {"csrf": csrf_of(page), "event_id": _event_id(page), "vacancy": "VAC-1",
            "directorate": "SOC-OJZ", "scale": "12", "title": "T", "kind": "external"}  # fmt: skip
    opened = [browser.post("/vacatures", data=form, follow_redirects=False) for _ in range(2)]
    assert [a.status_code for a in opened] == [303, 303]
    assert [row.event for row in transitions(site.engine, "VAC-1")] == ["open"]


def test_an_import_line_without_at_is_refused(engine: Engine, tmp_path: Path) -> None:
    line = _line("V1", "open", OPEN)
    del line["at"]
    [(_, reason)] = _import_line(engine, tmp_path, line)
    assert "at: ontbreekt" in reason


# -- 4. strict types, Dutch messages ---------------------------------------------------------

WRONG_TYPES = [
    ("open", OPEN | {"scale": "12"}, "scale: moet een geheel getal zijn"),
    ("open", OPEN | {"scale": True}, "scale: moet een geheel getal zijn"),
    ("open", OPEN | {"scale": 12.5}, "scale: moet een geheel getal zijn"),
    ("open", OPEN | {"title": 7}, "title: moet tekst zijn"),
    ("submit_shortlist", {"invited": "4", "diverse": 2}, "invited: moet een geheel getal zijn"),
    ("record_exit_interview", {"held": "true"}, "held: moet true of false zijn"),
    ("hire", {"employee": "P1", "start_date": 20250106}, "start_date: moet een datum zijn"),
    ("complete_biws", {"checklist": {"diverse_committee": 1}}, "moet true of false zijn"),
]


# What brings a vacancy to the state where each event above is allowed.
BEFORE = {
    "open": [],
    "complete_biws": [("open", OPEN), ("approve_text", {})],
    "submit_shortlist": [("open", OPEN), ("approve_text", {}), ("deviate_biws", {})],
    "hire": [("open", OPEN), ("approve_text", {}), ("deviate_biws", {}), ("deviate_shortlist", {})],
    "record_exit_interview": [
        ("open", OPEN), ("approve_text", {}), ("deviate_biws", {}), ("deviate_shortlist", {}),
        ("hire", {"employee": "P1", "start_date": "2025-01-06"}), ("deviate_onboarding", {}),
        ("register_departure", {"leave_date": "2025-01-06"}),
    ],
}  # fmt: skip


@pytest.mark.parametrize(("event", "data", "message"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_is_refused_in_dutch_by_the_import_and_the_cli(
    engine: Engine, send: Any, tmp_path: Path, event: str, data: dict[str, Any], message: str
) -> None:
    from idflow.cli import app

    for step, step_data in BEFORE[event]:
        send("V1", step, "2025-01-06T09:00:00+01:00", step_data)
    [(_, reason)] = _import_line(engine, tmp_path, _line("V1", event, data))
    assert message in reason and not ENGLISH.search(reason)
    result = CliRunner().invoke(app, ["advance", "V1", event, "--data", json.dumps(data)])
    assert result.exit_code != 0
    assert message in str(result.exception) and not ENGLISH.search(str(result.exception))


@pytest.mark.parametrize("scale", ["12", True, 12.5, 12.0])
def test_a_scale_that_is_not_a_json_integer_is_refused_in_dutch_by_the_api(
    site: Site, scale: Any
) -> None:
    answer = site.open("rita", "VAC-1", scale=scale)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "scale: moet een geheel getal zijn" in detail and not ENGLISH.search(detail)
    assert transitions(site.engine, "VAC-1") == []


@sqlite_only
def test_api_fields_outside_the_event_are_strict_and_dutch_too(site: Site) -> None:
    site.open("rita", "VAC-1")
    body = {"event": "deviate_text", "expected_version": "1"}
    answer = site.client.post("/api/vacancies/VAC-1/events", json=body, headers=site.auth("rita"))
    assert answer.status_code == 422
    assert "expected_version: moet een geheel getal zijn" in answer.json()["detail"]
    limit = site.client.get("/api/vacancies?limit=2.5", headers=site.auth("rita"))
    assert limit.status_code == 422 and not ENGLISH.search(limit.json()["detail"])


def test_csv_converts_only_its_data_column_from_json(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    data = json.dumps(OPEN | {"scale": "12"})
    path.write_text(
        "id,vacancy,event,at,actor,data\n"
        f'c-1,V1,open,2025-01-06T09:30:00+01:00,ats,"{data.replace(chr(34), chr(34) * 2)}"\n',
        encoding="utf-8",
    )
    [(_, reason)] = import_events(engine, read_lines(str(path))).refused
    assert "scale: moet een geheel getal zijn" in reason


# -- 3. documented limits --------------------------------------------------------------------

LIMITED = [
    ("deviate_text", "explanation", LIMITS["explanation"]),
    ("cancel", "reason", LIMITS["reason"]),
    ("approve_text", "text", LIMITS["text"]),
]


@pytest.mark.parametrize(("event", "field", "limit"), LIMITED)
def test_free_text_one_character_over_its_limit_is_refused_naming_the_limit(
    site: Site, event: str, field: str, limit: int
) -> None:
    site.open("rita", "VAC-1")
    over = site.send("rita", "VAC-1", event, {field: "a" * (limit + 1)})
    assert over.status_code == 422, over.text
    assert f"{field}: is te lang (hoogstens {limit} tekens)" in over.json()["detail"]
    assert len(transitions(site.engine, "VAC-1")) == 1
    at_limit = site.send("rita", "VAC-1", event, {field: "a" * limit})
    assert at_limit.status_code == 201, at_limit.text


@sqlite_only
def test_an_explanation_over_its_limit_is_refused_by_the_cli_and_the_import_too(
    engine: Engine, tmp_path: Path
) -> None:
    from idflow.cli import app

    limit = LIMITS["explanation"]
    too_long = {"explanation": "a" * (limit + 1)}
    assert _import_line(engine, tmp_path, _line("V1", "open", OPEN)) == []
    [(_, reason)] = _import_line(engine, tmp_path, _line("V1", "deviate_text", too_long))
    assert f"hoogstens {limit} tekens" in reason
    result = CliRunner().invoke(app, ["advance", "V1", "explain", "-f", "step=text",
                                      "-f", f"explanation={'a' * (limit + 1)}"])  # fmt: skip
    assert result.exit_code != 0 and f"hoogstens {limit} tekens" in str(result.exception)


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("Team\nleider", "title: moet één regel tekst zijn"),
        ("Teamleider\x00", "title: moet één regel tekst zijn"),
        ("Team\u2028leider", "title: moet één regel tekst zijn"),
    ],
)
def test_a_title_with_a_line_break_or_control_character_is_refused_not_a_server_error(
    site: Site, title: str, message: str
) -> None:
    answer = site.open("rita", "VAC-1", title=title)
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["detail"]


@sqlite_only
def test_an_explanation_keeps_its_line_breaks_but_not_control_characters(site: Site) -> None:
    site.open("rita", "VAC-1")
    refused = site.send("rita", "VAC-1", "deviate_text", {"explanation": "Spoed\x07"})
    assert refused.status_code == 422 and "stuurtekens" in refused.json()["detail"]
    kept = site.send("rita", "VAC-1", "deviate_text", {"explanation": "Spoed.\nZie mail.\t(1)"})
    assert kept.status_code == 201
    assert transitions(site.engine, "VAC-1")[-1].data["explanation"] == "Spoed.\nZie mail.\t(1)"


@sqlite_only
def test_the_text_check_api_has_the_vacancy_text_limit(site: Site) -> None:
    text = "a" * (LIMITS["text"] + 1)
    answer = site.client.post("/api/text-check", json={"text": text}, headers=site.auth("rita"))
    assert answer.status_code == 422
    assert f"hoogstens {LIMITS['text']} tekens" in answer.json()["detail"]


@sqlite_only
def test_the_forms_tell_the_browser_the_limits(site: Site) -> None:
    site.open("rita", "VAC-1")
    page = site.browser("rita").get("/vacatures/VAC-1").text
    assert f'maxlength="{LIMITS["explanation"]}"' in page
    assert f'maxlength="{LIMITS["text"]}"' in page
