"""End to end in real headless Chromium (Debian's package, driven by Playwright; no downloads).

A recruiter takes a vacancy from open to closed through the pages; P&O reads the dashboard.
Screenshots of the main pages go to ``tests/artifacts/``.
"""

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from models import Settings, get_settings
from models.database import dispose_engine, get_engine
from procedures.accounts import create_user
from procedures.setup import initialise
from web.app import create_app

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
# As the machine notes say: without the networking flags Chromium keeps calling home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "correct-horse-battery"
TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web app under uvicorn in a thread, on a free port and a fresh SQLite database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'idflow.db'}"
    get_settings.cache_clear()
    engine = get_engine(url)
    with Session(engine) as session:
        initialise(engine, session)
        create_user(session, "rita", PASSWORD, "recruiter", ["SOC-OJZ"])
        create_user(session, "pia", PASSWORD, "pno", [])
        session.commit()
    app = create_app(url, Settings(database_url=url, cookie_secure=False))
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.05):  # poll uvicorn's own flag, with a deadline
        if uvicorn_server.started:
            started.set()
        assert thread.is_alive(), "uvicorn stopped while starting"
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    dispose_engine(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, server: str) -> Iterator[object]:
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    yield page
    context.close()
    # The pages are served with a CSP without inline script or style: nothing may be refused.
    refused = [text for text in console if "Content Security Policy" in text]
    assert not refused, refused


def shoot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def sign_in(page: object, username: str) -> None:
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("form[action='/login'] button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("form.who")  # type: ignore[attr-defined]


def take_step(page: object, event: str, target_state: str) -> None:
    """Submit the form of ``event`` and wait until the page shows the new state."""
    open_form(page, event)
    page.locator(f"#event-{event} button.primary").click()  # type: ignore[attr-defined]
    page.wait_for_selector(f"#state[data-state={target_state}]")  # type: ignore[attr-defined]


def open_form(page: object, event: str) -> object:
    """Unfold the event's form as a user does, by clicking its summary."""
    form = page.locator(f"#event-{event}")  # type: ignore[attr-defined]
    if not form.evaluate("details => details.open"):
        form.locator("summary").click()
    return form


def test_a_recruiter_takes_a_vacancy_from_open_to_closed_through_the_pages(page: object) -> None:
    from playwright.sync_api import expect

    sign_in(page, "rita")
    page.wait_for_selector("#open-form")  # type: ignore[attr-defined]
    page.fill("#open-form input[name=vacancy]", "VAC-E2E-1")  # type: ignore[attr-defined]
    page.select_option("#open-form select[name=directorate]", "SOC-OJZ")  # type: ignore[attr-defined]
    page.fill("#open-form input[name=scale]", "12")  # type: ignore[attr-defined]
    page.fill("#open-form input[name=title]", "Teamleider Jeugd")  # type: ignore[attr-defined]
    page.select_option("#open-form select[name=kind]", "external")  # type: ignore[attr-defined]
    page.click("#open-form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#state[data-state=text]")  # type: ignore[attr-defined]
    shoot(page, "vacancy-opened")

    form = open_form(page, "approve_text")
    form.locator("textarea[name=text]").fill(  # type: ignore[attr-defined]
        "Voor ons jonge team zoeken wij een teamleider. Je moedertaal is Nederlands."
    )
    form.locator("button", has_text="Tekst controleren").click()  # type: ignore[attr-defined]
    findings = page.locator("#textcheck-findings")  # type: ignore[attr-defined]
    expect(findings).to_contain_text("jonge team")
    expect(findings).to_contain_text("moedertaal")
    shoot(page, "vacancy-text-check")
    page.fill(  # type: ignore[attr-defined]
        "#event-approve_text textarea[name=text]",
        "Voor ons team zoeken wij een teamleider die graag samenwerkt.",
    )
    take_step(page, "approve_text", "biws")
    form = open_form(page, "complete_biws")
    for box in form.locator("input[type=checkbox]").all():  # type: ignore[attr-defined]
        box.check()
    take_step(page, "complete_biws", "shortlist")

    form = open_form(page, "submit_shortlist")
    expect(form.locator(".note", has_text="niet opgeslagen")).to_be_visible()  # type: ignore[attr-defined]
    form.locator("input[name=invited]").fill("3")  # type: ignore[attr-defined]
    form.locator("input[name=diverse]").fill("5")  # type: ignore[attr-defined]
    form.locator("button[type=submit]").click()  # type: ignore[attr-defined]
    error = page.locator("#event-submit_shortlist .error")  # type: ignore[attr-defined]
    expect(error).to_contain_text("kan niet groter zijn dan het aantal uitgenodigden")
    expect(page.locator("#event-submit_shortlist input[name=invited]")).to_have_value("3")  # type: ignore[attr-defined]
    shoot(page, "vacancy-refused-inline")
    page.fill("#event-submit_shortlist input[name=diverse]", "2")  # type: ignore[attr-defined]
    take_step(page, "submit_shortlist", "selection")

    form = open_form(page, "hire")
    form.locator("input[name=employee]").fill("P-2001")  # type: ignore[attr-defined]
    form.locator("input[name=start_date]").fill("2026-12-01")  # type: ignore[attr-defined]
    take_step(page, "hire", "onboarding")
    take_step(page, "complete_onboarding", "employed")
    form = open_form(page, "register_departure")
    form.locator("input[name=leave_date]").fill("2027-06-30")  # type: ignore[attr-defined]
    form.locator("select[name=destination]").select_option("pensioen")  # type: ignore[attr-defined]
    take_step(page, "register_departure", "exit_interview")
    form = open_form(page, "record_exit_interview")
    form.locator("input[name=held][value=true]").check()  # type: ignore[attr-defined]
    form.locator("input[name=reasons][value=loopbaan]").check()  # type: ignore[attr-defined]
    take_step(page, "record_exit_interview", "closed")

    outcomes = page.locator("#outcomes .outcome")  # type: ignore[attr-defined]
    expect(outcomes).to_have_text(["voldaan"] * 5)
    expect(page.locator("#history tbody tr")).to_have_count(8)  # type: ignore[attr-defined]
    expect(page.locator(".chart li.current")).to_contain_text("Afgesloten")  # type: ignore[attr-defined]
    shoot(page, "vacancy-closed")
    page.goto("/vacatures")  # type: ignore[attr-defined]
    expect(page.locator("#vacancy-list")).to_contain_text("VAC-E2E-1")  # type: ignore[attr-defined]
    shoot(page, "vacancies")


def test_pno_reads_the_dashboard(page: object) -> None:
    from playwright.sync_api import expect

    sign_in(page, "pia")
    page.wait_for_selector("#clusters")  # type: ignore[attr-defined]
    expect(page.locator("h1")).to_contain_text("Dashboard P&O")  # type: ignore[attr-defined]
    expect(page.locator("#clusters")).to_contain_text("Gemeente totaal")  # type: ignore[attr-defined]
    expect(page.locator("#downloads a", has_text="CSV").first).to_be_visible()  # type: ignore[attr-defined]
    shoot(page, "dashboard")


def test_the_html_report_shows_its_charts_offline_and_prints_in_chromium(
    browser: object, tmp_path: Path
) -> None:
    """The kwartaalrapportage as P&O opens it: a file, no network, charts drawn, printable."""
    from procedures.engine import apply_event
    from procedures.events import parse_event
    from procedures.report_builder import build_report
    from procedures.tallies import roll_up
    from workflows.report_html import render_html

    url = f"sqlite:///{tmp_path / 'report.db'}"
    engine = get_engine(url)
    opened = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
    events = [(f"V{n}", "open", "2025-01-06T09:00:00+01:00", opened) for n in range(6)]
    events += [(f"V{n}", "approve_text", "2025-02-03T09:00:00+01:00", {}) for n in range(5)]
    events += [("V5", "deviate_text", "2025-02-04T09:00:00+01:00", {})]
    with Session(engine) as session:
        initialise(engine, session)
        for n, (vacancy, event, at, data) in enumerate(events):
            raw = {"id": f"r-{n}", "vacancy": vacancy, "event": event, "at": at}
            apply_event(session, parse_event(raw | {"actor": "r", "data": data}), "test")
        roll_up(session)
        book = build_report(session, "2025Q1", suppress=False)
        session.commit()
    dispose_engine(url)
    path = tmp_path / "2025Q1.html"
    path.write_text(render_html(book), encoding="utf-8")

    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(path.as_uri())
    charts = page.locator("svg")
    assert charts.count() == 10  # per indicator: % met per cluster, and the trend
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 20, (index, box)
    assert (
        page.locator("svg rect").count() > 0 and page.locator("svg .norm").count() == 10
    )  # the 100% line in each
    shoot(page, "kwartaalrapportage")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    context.close()
