"""Alert rules, routing files and Dutch rendering: which alerts arise, who gets them, what
they say."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from models import Outbox
from notifications.render import Names, render_alert
from notifications.routing import RoutingError, load_checked
from procedures.alerts import below_norm_causes, parse_as_of, scan_overdue
from procedures.policy import default_policy
from procedures.tallies import roll_up

OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
CHECKLIST = dict.fromkeys(default_policy().biws_checklist, True)
BASE = "https://idflow.gemeente.example"


def _scan(engine: Engine, as_of: str) -> list[str]:
    with Session(engine, expire_on_commit=False) as session:
        causes = [alert.cause for alert in scan_overdue(session, parse_as_of(as_of))]
        session.commit()
    return causes


def _alerts(engine: Engine, kind: str | None = None) -> list[Outbox]:
    with Session(engine) as session:
        statement = select(Outbox).order_by(Outbox.id)  # type: ignore[arg-type]
        if kind:
            statement = statement.where(Outbox.kind == kind)
        return list(session.exec(statement))


def _rendered(engine: Engine, kind: str) -> Any:
    """The first alert of ``kind`` as P&O receives it."""
    with Session(engine) as session:
        return render_alert(_alerts(engine, kind)[0], Names.load(session), BASE)


# -- overdue scan -------------------------------------------------------------------------


def test_overdue_scan_raises_each_overdue_stay_once_however_often_it_runs(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)  # text: due 30 days later
    send("V2", "open", "2025-02-20T09:00:00+01:00", OPEN)  # not yet due on 1 March
    first = _scan(engine, "2025-03-01T07:00")
    again = _scan(engine, "2025-03-02T07:00")
    assert len(first) == 1 and first[0].startswith("overdue:V1:text:")
    assert again == []


def test_a_new_stay_that_runs_over_raises_a_new_overdue_alert(send: Any, engine: Engine) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    _scan(engine, "2025-03-01T07:00")
    send("V1", "approve_text", "2025-03-03T09:00:00+01:00")  # biws: 60 days
    assert _scan(engine, "2025-04-01T07:00") == []
    later = _scan(engine, "2025-05-05T07:00")
    assert len(later) == 1 and later[0].startswith("overdue:V1:biws:")


def test_an_explanation_during_a_stay_does_not_raise_the_overdue_alert_again(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")  # not_met, now in biws
    assert len(_scan(engine, "2025-03-10T07:00")) == 1
    send(
        "V1",
        "explain",
        "2025-03-11T09:00:00+01:00",
        {"step": "text", "explanation": "Tekst door wethouder vastgesteld"},
    )
    assert _scan(engine, "2025-03-12T07:00") == []


def test_overdue_scan_as_of_before_the_limit_raises_nothing(send: Any, engine: Engine) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    assert _scan(engine, "2025-02-05T08:59") == []
    assert len(_scan(engine, "2025-02-05T09:01")) == 1


def test_closed_and_employed_procedures_are_never_overdue(send: Any, engine: Engine) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "cancel", "2025-01-07T09:00:00+01:00")
    assert _scan(engine, "2030-01-01T00:00") == []


def test_an_unreadable_as_of_is_refused_in_dutch() -> None:
    with pytest.raises(Exception, match="Ongeldig tijdstip 'gisteren'"):
        parse_as_of("gisteren")


# -- below norm after a quarter -------------------------------------------------------------


def test_every_directorate_below_norm_gets_one_alert_per_quarter(send: Any, engine: Engine) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")
    send("V2", "open", "2025-01-06T09:00:00+01:00", OPEN | {"directorate": "SOC-WPI"})
    send("V2", "approve_text", "2025-01-07T09:00:00+01:00")
    send("V3", "open", "2025-01-06T09:00:00+01:00", OPEN | {"directorate": "BV-FIN"})
    send("V3", "deviate_text", "2025-01-07T09:00:00+01:00", {"explanation": "Spoed"})
    with Session(engine, expire_on_commit=False) as session:
        roll_up(session)
        first = below_norm_causes(session, "2025Q1")
        again = below_norm_causes(session, "2025Q1")
        session.commit()
    assert [a.cause for a in first] == ["below_norm:2025Q1:SOC-OJZ"]
    assert again == []
    payload = first[0].payload
    assert [i["indicator"] for i in payload["indicators"]] == ["I2"]
    assert payload["vacancies"] == [
        {"vacancy": "V1", "indicator": "I2", "step": "text", "actor": "recruiter-1"}
    ]


def test_an_explained_deviation_no_longer_counts_below_norm(send: Any, engine: Engine) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")
    send("V1", "explain", "2025-04-02T09:00:00+02:00", {"step": "text", "explanation": "Alsnog"})
    with Session(engine) as session:
        roll_up(session)
        assert below_norm_causes(session, "2025Q1") == []


# -- rendering -------------------------------------------------------------------------------


def _rooney_released(send: Any) -> None:
    send("V9", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V9", "approve_text", "2025-01-07T09:00:00+01:00")
    send("V9", "complete_biws", "2025-01-08T09:00:00+01:00", {"checklist": CHECKLIST})
    send("V9", "submit_shortlist", "2025-01-09T09:00:00+01:00", {"invited": 4, "diverse": 1})
    send("V9", "submit_shortlist", "2025-01-10T09:00:00+01:00", {"invited": 4, "diverse": 0})


def test_every_alert_names_vacancy_directorate_and_step_and_links_the_vacancy_page(
    send: Any, engine: Engine
) -> None:
    _rooney_released(send)
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")
    _scan(engine, "2025-06-01T07:00")
    with Session(engine) as session:
        names = Names.load(session)
    alerts = _alerts(engine)
    kinds = {a.kind for a in alerts}
    assert kinds == {"not_met", "rooney_round_failed", "rooney_released", "overdue"}
    for alert in alerts:
        message = render_alert(alert, names, BASE)
        text = message.title + "\n" + message.body
        assert alert.vacancy and alert.vacancy in message.title
        assert "Onderwijs, Jeugd en Zorg" in text and "Sociaal" in text
        assert f"{BASE}/vacatures/{alert.vacancy}" in message.body
        assert "recruiter-1" in message.body  # the recruiter is named
        assert "Wat kunt u doen" in message.body or "Ter informatie" in message.body
        assert "idflow" not in message.body.replace(BASE, "")  # no CLI: P&O uses the web app
        assert message.warning == alert.immediate  # the webhook type follows the severity
        # Lines end only where a paragraph (or a list item) ends: clients wrap the rest.
        for paragraph in message.body.split("\n\n"):
            lines = paragraph.splitlines()
            assert len(lines) == 1 or all(line.startswith("- ") for line in lines[1:])


def test_a_not_met_alert_asks_the_recruiter_to_explain_in_the_web_form(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:30:00+01:00", actor="rita")
    message = _rendered(engine, "not_met")
    assert message.title == (
        "Afwijking zonder toelichting: V1, I&D-vacaturetekst (Onderwijs, Jeugd en Zorg)"
    )
    assert "op 7 januari 2025 09:30" in message.body
    assert "Vastgelegd door recruiter rita." in message.body
    ask = 'Vraag rita de afwijking alsnog toe te lichten op de vacaturepagina, bij "toelichten"'
    assert f"{ask}: {BASE}/vacatures/V1#event-explain" in message.body
    assert message.link == f"{BASE}/vacatures/V1#event-explain" and message.warning


def test_an_overdue_alert_says_since_when_until_when_and_offers_the_events_of_the_step(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN, actor="rita")
    _scan(engine, "2025-03-01T07:00")
    message = _rendered(engine, "overdue")
    assert "sinds 6 januari 2025 09:00" in message.body
    assert "op 5 februari 2025 09:00 verstreken" in message.body
    assert "De stap is begonnen door recruiter rita." in message.body
    assert "Mogelijk in deze stap: tekst goedkeuren, tekst afwijken of annuleren." in message.body


def test_an_overdue_biws_alert_offers_the_web_form_not_a_command_that_is_refused(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "approve_text", "2025-01-07T09:00:00+01:00")
    _scan(engine, "2025-04-01T07:00")
    message = _rendered(engine, "overdue")
    assert "idflow advance" not in message.body and "complete_biws" not in message.body
    assert "BIWS afronden, BIWS afwijken of annuleren" in message.body


def test_a_below_norm_alert_lists_the_indicators_and_the_unexplained_vacancies(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("V1", "deviate_text", "2025-01-07T09:00:00+01:00")
    with Session(engine) as session:
        roll_up(session)
        alert = below_norm_causes(session, "2025Q1")[0]
        message = render_alert(alert, Names.load(session), BASE)
    assert message.title == "Onder de norm in 2025Q1: Onderwijs, Jeugd en Zorg (SOC-OJZ)"
    assert "I2 I&D-vacaturetekst: 1 van 1 zonder toelichting (0,0% voldaan)" in message.body
    assert f"V1 (I2, recruiter recruiter-1): {BASE}/vacatures/V1#event-explain" in message.body
    assert message.link == f"{BASE}/dashboard"


# -- routing files ---------------------------------------------------------------------------

GOOD = """
recipients:
  - id: po-soc
    name: P&O Sociaal
    clusters: [SOC]
    channels: ["mailto://127.0.0.1:2525?mode=insecure&from=a@b.nl&to=po@b.nl"]
  - id: chat
    clusters: ["*"]
    kinds: [not_met]
    channels: ["json://127.0.0.1:8080/hook", "file://meldingen/chat.txt"]
fallback:
  id: vangnet
  channels: ["file://meldingen/vangnet.txt"]
"""


def _load(engine: Engine, tmp_path: Path, text: str) -> Any:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    with Session(engine) as session:
        return load_checked(session, path)


def test_a_routing_file_routes_by_cluster_directorate_and_kind(
    engine: Engine, tmp_path: Path
) -> None:
    routing = _load(engine, tmp_path, GOOD)
    assert [r.id for r in routing.recipients_for("not_met", "SOC-OJZ", "SOC")] == ["po-soc", "chat"]
    assert [r.id for r in routing.recipients_for("overdue", "BV-FIN", "BV")] == []
    assert [r.id for r in routing.recipients_for("not_met", "BV-FIN", "BV")] == ["chat"]


@pytest.mark.parametrize(
    ("change", "message"),  # the change follows "clusters: [SOC]"; a repeated key wins
    [
        ("kinds: [not_met]", None),
        ("kinds: [niet_voldaan]", "onbekende soort melding 'niet_voldaan' (bekend: not_met"),
        ("clusters: [XYZ]", "onbekende clustercode 'XYZ'"),
        ("directorates: [SOC-XXX]", "onbekende directiecode 'SOC-XXX'"),
        ("colour: red", "onbekend veld 'colour'"),
    ],
)
def test_a_routing_file_with_unknown_codes_is_refused_with_the_known_ones(
    engine: Engine, tmp_path: Path, change: str, message: str | None
) -> None:
    text = GOOD.replace("    clusters: [SOC]\n", f"    clusters: [SOC]\n    {change}\n")
    if message is None:
        assert _load(engine, tmp_path, text).recipients[0].kinds == {"not_met"}
        return
    with pytest.raises(RoutingError, match=message.replace("(", r"\(")):
        _load(engine, tmp_path, text)


@pytest.mark.parametrize(
    "url", ["http://example.org/hook", "json://", "mailto://", "sms://123", "file://"]
)
def test_a_routing_file_with_a_bad_channel_url_is_refused(
    engine: Engine, tmp_path: Path, url: str
) -> None:
    text = GOOD.replace("json://127.0.0.1:8080/hook", url)
    with pytest.raises(RoutingError, match="kanaal"):
        _load(engine, tmp_path, text)


def test_a_missing_routing_file_points_at_the_example(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session, pytest.raises(RoutingError, match="routing.example.yaml"):
        load_checked(session, tmp_path / "geen.yaml")


def _idflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from idflow.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=60
    )


EVERYONE = """
  - id: po-concern
    clusters: ["*"]
    channels: ["file://meldingen/concern.txt"]
"""


def test_the_cli_validates_and_shows_a_routing_file_with_secrets_from_the_environment(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "routing.yaml"
    text = GOOD.replace("127.0.0.1:2525", "po:${SMTP_PASSWORD}@127.0.0.1:2525")
    path.write_text(text.replace("fallback:", EVERYONE.lstrip("\n") + "fallback:"), "utf-8")
    env = {"IDFLOW_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    secret = env | {"SMTP_PASSWORD": "geheim/@:wachtwoord"}
    ok = _idflow("alerts", "routing", "validate", str(path), env=secret)
    shown = _idflow("alerts", "routing", "show", env=secret | {"IDFLOW_ROUTING_FILE": str(path)})
    assert ok.returncode == 0, ok.stderr
    assert "is in orde: 3 ontvangers en vangnetontvanger 'vangnet'" in ok.stdout
    assert shown.returncode == 0 and "po-soc" in shown.stdout and "vangnet" in shown.stdout
    assert "geheim" not in shown.stdout and "wachtwoord" not in shown.stdout
    unset = _idflow("alerts", "routing", "validate", str(path), env=env)
    assert unset.returncode == 1
    assert "${SMTP_PASSWORD}, maar die omgevingsvariabele is niet gezet" in unset.stderr
    path.write_text(GOOD.replace("[not_met]", "[onbekend]"), encoding="utf-8")
    bad = _idflow("alerts", "routing", "validate", str(path), env=env)
    assert bad.returncode == 1
    assert "onbekende soort melding 'onbekend'" in bad.stderr


def test_a_secret_from_the_environment_reaches_the_channel_url_encoded(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "ge/heim@:1")
    routing = _load(
        engine, tmp_path, GOOD.replace("127.0.0.1:2525", "po:${SMTP_PASSWORD}@127.0.0.1:2525")
    )
    [channel] = routing.get("po-soc").channels
    assert "po:ge%2Fheim%40%3A1@127.0.0.1:2525" in channel.url
    assert "${SMTP_PASSWORD}" in channel.written  # the channel id is of the URL as written
    import apprise

    assert apprise.Apprise.instantiate(channel.url).password == "ge/heim@:1"


def test_routing_validate_fails_for_every_cluster_and_kind_without_a_recipient(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD, encoding="utf-8")
    env = {"IDFLOW_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    gaps = _idflow("alerts", "routing", "validate", str(path), env=env)
    assert gaps.returncode == 1
    assert "naar de vangnetontvanger 'vangnet'" in gaps.stderr
    assert "cluster BV: geen ontvanger voor 'procedure over de termijn'" in gaps.stderr
    # chat takes not_met everywhere
    assert "cluster BV: geen ontvanger voor 'afwijking zonder toelichting'" not in gaps.stderr
    assert "cluster SOC:" not in gaps.stderr  # po-soc takes every kind of its cluster
    # A closed quarter concerns the whole municipality: a cluster's recipient does not take it.
    assert "hele gemeente: geen ontvanger voor 'kwartaal vastgesteld'" in gaps.stderr


def test_a_routing_file_without_a_fallback_is_refused(engine: Engine, tmp_path: Path) -> None:
    text = GOOD.split("fallback:")[0]
    with pytest.raises(RoutingError, match="'fallback:' ontbreekt"):
        _load(engine, tmp_path, text)


def test_the_example_routing_file_loads_with_its_secrets_from_the_environment() -> None:
    from notifications.routing import load_routing

    example = Path(__file__).resolve().parents[1] / "notifications" / "routing.example.yaml"
    secrets = {"SMTP_PASSWORD": "x", "TEAMS_WORKFLOW": "abc", "TEAMS_SIGNATURE": "def"}
    routing = load_routing(example, environ=secrets)
    assert routing.fallback.id == "po-vangnet" and len(routing.recipients) == 4
    without = {k: v for k, v in secrets.items() if k != "TEAMS_SIGNATURE"}
    with pytest.raises(RoutingError, match=r"\$\{TEAMS_SIGNATURE\}"):
        load_routing(example, environ=without)


def test_an_overdue_alert_raised_before_recruiters_were_named_still_renders(
    send: Any, engine: Engine
) -> None:
    send("V1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    _scan(engine, "2025-03-01T07:00")
    [alert] = _alerts(engine, "overdue")
    alert.payload = {k: v for k, v in alert.payload.items() if k != "actor"}
    with Session(engine) as session:
        message = render_alert(alert, Names.load(session), BASE)
    assert "vraag de recruiter de stap af te ronden" in message.body
