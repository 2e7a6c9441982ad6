"""The state chart against DOMAIN.md: which event is allowed in which state, and every rule.

The expected table below is written from DOMAIN.md, not derived from the chart. The rules
are decided by the planner against an in-memory store (``FakeStore``): they need no database,
and the engine's own tests (``test_engine.py``, ``test_engine_batch.py``) cover the writing.
"""

import importlib.metadata
import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from statemachine.exceptions import TransitionNotAllowed
from support import CHECKLIST, EVENTS, FakeStore, Sender

from procedures.chart import (
    CHECKED_WITH_STATEMACHINE,
    TRANSITIONS,
    Decision,
    NoTransition,
    ProcedureView,
    VacancyChart,
    _table,
    decide,
)
from procedures.chart import EVENTS as chart_events
from procedures.chart import send as chart_send
from procedures.errors import (
    EventNotAllowed,
    InvalidInput,
    RefusedError,
    RuleViolation,
    UnknownVacancy,
)
from procedures.events import DATA_SCHEMAS, parse_data, parse_event
from procedures.evidence import text_evidence
from procedures.policy import default_policy
from procedures.rows import OutboxRow

OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
VALID_DATA: dict[str, dict[str, Any]] = {
    "open": OPEN,
    "approve_text": {},
    "deviate_text": {"explanation": "Spoed"},
    "complete_biws": {"checklist": CHECKLIST},
    "deviate_biws": {"explanation": "Geen diverse commissie beschikbaar"},
    "submit_shortlist": {"invited": 4, "diverse": 2},
    "deviate_shortlist": {"explanation": "Interne herplaatsing"},
    "hire": {"employee": "P123456", "start_date": "2025-03-01"},
    "cancel": {"reason": "Ingetrokken"},
    "complete_onboarding": {},
    "deviate_onboarding": {"explanation": "Op afstand gestart"},
    "register_departure": {"leave_date": "2025-06-01", "destination": "pensioen"},
    "record_exit_interview": {"held": True, "reasons": ["loopbaan"]},
    "deviate_exit_interview": {"explanation": "Vertrok onverwacht"},
    # Every path below leaves the text step not_met, so this explain is allowed after it.
    "explain": {"step": "text", "explanation": "Achteraf toegelicht"},
}

# How to reach each state (after `open`); text is deviated without explanation (not_met).
PATHS: dict[str, list[str]] = {
    "new": [],
    "text": ["open"],
    "biws": ["open", "deviate_text"],
    "shortlist": ["open", "deviate_text", "complete_biws"],
    "selection": ["open", "deviate_text", "complete_biws", "submit_shortlist"],
    "onboarding": ["open", "deviate_text", "complete_biws", "submit_shortlist", "hire"],
    "employed": [
        "open",
        "deviate_text",
        "complete_biws",
        "submit_shortlist",
        "hire",
        "complete_onboarding",
    ],
    "exit_interview": [
        "open",
        "deviate_text",
        "complete_biws",
        "submit_shortlist",
        "hire",
        "complete_onboarding",
        "register_departure",
    ],
    "closed": [
        "open",
        "deviate_text",
        "complete_biws",
        "submit_shortlist",
        "hire",
        "complete_onboarding",
        "register_departure",
        "record_exit_interview",
    ],
    "cancelled": ["open", "deviate_text", "cancel"],
}
STATES = tuple(PATHS)

# DOMAIN.md: state -> {allowed event: target state}. `explain` needs a finished not_met step,
# which every path has from `biws` on; in `text` no step has finished yet.
EXPECTED: dict[str, dict[str, str]] = {
    "new": {"open": "text"},
    "text": {"approve_text": "biws", "deviate_text": "biws", "cancel": "cancelled"},
    "biws": {
        "complete_biws": "shortlist",
        "deviate_biws": "shortlist",
        "cancel": "cancelled",
        "explain": "biws",
    },
    "shortlist": {
        "submit_shortlist": "selection",
        "deviate_shortlist": "selection",
        "cancel": "cancelled",
        "explain": "shortlist",
    },
    "selection": {"hire": "onboarding", "cancel": "cancelled", "explain": "selection"},
    "onboarding": {
        "complete_onboarding": "employed",
        "deviate_onboarding": "employed",
        "explain": "onboarding",
    },
    "employed": {"register_departure": "exit_interview", "explain": "employed"},
    "exit_interview": {
        "record_exit_interview": "closed",
        "deviate_exit_interview": "closed",
        "explain": "exit_interview",
    },
    "closed": {"explain": "closed"},
    "cancelled": {"explain": "cancelled"},
}
# Driving along a path leaves the text step not_met (deviated without explanation).
PATH_DATA = VALID_DATA | {"deviate_text": {}}
CASES = [(state, event) for state in STATES for event in EVENTS]


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def send(store: FakeStore) -> Sender:
    """Events decided by the planner against the in-memory store, one at a time."""
    return Sender(store.apply)


def _view_in(state: str) -> ProcedureView:
    view = ProcedureView(policy=default_policy())
    for event in PATHS[state]:
        _chart(view, event, PATH_DATA[event])
    assert (view.state or "new") == state
    return view


def _chart(view: ProcedureView, event: str, data: dict[str, Any]) -> None:
    raw = {"id": "x", "vacancy": "V", "event": event, "at": "2025-01-06T09:00", "actor": "a"}
    chart_send(view, event, data=parse_data(parse_event(raw | {"data": data})))


@pytest.mark.parametrize(("state", "event"), CASES, ids=[f"{s}-{e}" for s, e in CASES])
def test_the_chart_allows_exactly_the_events_domain_md_lists_for_each_state(
    state: str, event: str
) -> None:
    view = _view_in(state)
    target = EXPECTED[state].get(event)
    if target is None:
        with pytest.raises((TransitionNotAllowed, RefusedError)):
            _chart(view, event, VALID_DATA[event])
        assert (view.state or "new") == state
    else:
        _chart(view, event, VALID_DATA[event])
        assert view.state == target


def test_the_expected_table_covers_fifteen_events_and_every_state_of_the_chart() -> None:
    from procedures.chart import STATE_LABELS

    assert len(EVENTS) == 15
    assert set(EVENTS) == set(DATA_SCHEMAS)
    assert set(STATES) == set(STATE_LABELS)


# -- the same table through the planner, with the refusal messages -----------------------


def _at(minute: int) -> str:
    return f"2025-01-06T09:{minute:02d}:00+01:00"


def _drive(send: Any, vacancy: str, state: str) -> None:
    for minute, event in enumerate(PATHS[state]):
        send(vacancy, event, _at(minute), PATH_DATA[event])


def test_the_engine_applies_allowed_events_and_refuses_the_others_in_dutch_naming_the_state(
    send: Any, store: FakeStore
) -> None:
    for state in STATES[1:]:
        _check_state_through_engine(send, store, state)


def _check_state_through_engine(send: Any, store: FakeStore, state: str) -> None:
    allowed = EXPECTED[state]
    refused_vacancy = f"R-{state}"
    _drive(send, refused_vacancy, state)
    for event in EVENTS:
        if event in allowed:
            continue
        with pytest.raises(RefusedError) as refused:
            send(refused_vacancy, event, _at(30), VALID_DATA[event])
        message = str(refused.value)
        if event == "open":
            assert "bestaat al" in message and state in message
        elif event == "explain":  # in `text` no step is finished yet
            assert isinstance(refused.value, RuleViolation)
            assert "nog niet afgerond" in message
            assert f"Toestand '{state}'" in message
            for name in allowed:
                assert name in message.split("nu toegestaan:")[1]
        else:
            assert isinstance(refused.value, EventNotAllowed), (state, event)
            assert f"'{event}' is niet toegestaan" in message
            assert f"toestand '{state}'" in message
            now_allowed = message.split("Nu toegestaan:")[1]
            for name in allowed:
                assert name in now_allowed, (state, event, message)
    assert store.procedures[refused_vacancy].state == state
    for number, (event, target) in enumerate(allowed.items()):
        vacancy = f"A-{state}-{number}"
        _drive(send, vacancy, state)
        result = send(vacancy, event, _at(30), VALID_DATA[event])
        assert (result.status, result.state) == ("applied", target), (state, event)


def test_an_event_for_a_vacancy_that_was_never_opened_is_refused_and_says_to_open_it(
    send: Any,
) -> None:
    with pytest.raises(UnknownVacancy, match="open haar eerst met de gebeurtenis 'open'"):
        send("V-NONE", "approve_text", _at(0))


def test_the_refusal_in_a_final_state_says_nothing_is_allowed_any_more(send: Any) -> None:
    send("V1", "open", _at(0), OPEN)
    send("V1", "approve_text", _at(1))
    send("V1", "cancel", _at(2))
    with pytest.raises(EventNotAllowed, match=r"toestand 'cancelled'.*Nu toegestaan: geen"):
        send("V1", "complete_biws", _at(3), VALID_DATA["complete_biws"])


# -- Rooney Rule ------------------------------------------------------------------------


def _to_shortlist(send: Any, vacancy: str = "V1") -> None:
    send(vacancy, "open", _at(0), OPEN)
    send(vacancy, "approve_text", _at(1))
    send(vacancy, "complete_biws", _at(2), {"checklist": CHECKLIST})


def _outbox(store: FakeStore, kind: str) -> list[OutboxRow]:
    return [row for row in store.outbox if row.kind == kind]


def test_a_shortlist_with_at_least_half_diverse_meets_the_rooney_rule_in_round_one(
    send: Any, store: FakeStore
) -> None:
    for number, (invited, diverse) in enumerate([(4, 2), (2, 1), (6, 3), (5, 3), (1, 1)]):
        vacancy = f"V-MET-{number}"
        _to_shortlist(send, vacancy)
        result = send(vacancy, "submit_shortlist", _at(3), {"invited": invited, "diverse": diverse})
        assert (result.state, result.outcome, result.round) == ("selection", "met", 1)
    assert _outbox(store, "rooney_round_failed") == []


def test_a_shortlist_below_half_starts_a_second_round_with_an_informational_alert(
    send: Any, store: FakeStore
) -> None:
    cases = [(4, 1), (5, 2), (3, 0), (7, 3)]
    for number, (invited, diverse) in enumerate(cases):
        vacancy = f"V-LOW-{number}"
        _to_shortlist(send, vacancy)
        result = send(vacancy, "submit_shortlist", _at(3), {"invited": invited, "diverse": diverse})
        assert (result.state, result.outcome, result.round) == ("shortlist", None, 2)
        procedure = store.procedures[vacancy]
        assert (procedure.round, procedure.outcome_rooney) == (2, None)
    alerts = _outbox(store, "rooney_round_failed")
    assert len(alerts) == len(cases) and not any(a.immediate for a in alerts)
    assert _outbox(store, "not_met") == _outbox(store, "rooney_released") == []


def test_the_rooney_rule_met_in_round_two_is_met(send: Any, store: FakeStore) -> None:
    _to_shortlist(send)
    send("V1", "submit_shortlist", _at(3), {"invited": 4, "diverse": 1})
    result = send("V1", "submit_shortlist", _at(4), {"invited": 4, "diverse": 2})
    assert (result.state, result.outcome, result.round) == ("selection", "met", 2)
    assert _outbox(store, "rooney_released") == []


def test_the_rooney_rule_is_released_after_two_failed_rounds_with_an_immediate_alert(
    send: Any, store: FakeStore
) -> None:
    _to_shortlist(send)
    send("V1", "submit_shortlist", _at(3), {"invited": 4, "diverse": 1})
    result = send("V1", "submit_shortlist", _at(4), {"invited": 6, "diverse": 0})
    assert (result.state, result.outcome, result.round) == ("selection", "released", 2)
    released = _outbox(store, "rooney_released")
    assert len(released) == 1 and released[0].immediate is True
    assert store.procedures["V1"].outcome_rooney == "released"


def test_impossible_shortlist_counts_are_refused(send: Any) -> None:
    _to_shortlist(send)
    for data in (
        {"invited": 3, "diverse": 4},
        {"invited": 0, "diverse": 0},
        {"invited": 3, "diverse": -1},
    ):
        with pytest.raises(RefusedError):
            send("V1", "submit_shortlist", _at(3), data)
    with pytest.raises(RuleViolation, match="groter") as refused:
        send("V1", "submit_shortlist", _at(3), {"invited": 3, "diverse": 7919})
    assert "7919" not in str(refused.value)  # refusals reach logs: the count is not repeated


# -- comply or explain ------------------------------------------------------------------

DEVIATIONS = [
    ("deviate_text", ["open"]),
    ("deviate_biws", ["open", "approve_text"]),
    ("deviate_shortlist", ["open", "approve_text", "complete_biws"]),
    (
        "deviate_onboarding",
        ["open", "approve_text", "complete_biws", "submit_shortlist", "hire"],
    ),
    (
        "deviate_exit_interview",
        [
            "open",
            "approve_text",
            "complete_biws",
            "submit_shortlist",
            "hire",
            "complete_onboarding",
            "register_departure",
        ],
    ),
]


def _run(send: Any, vacancy: str, events: list[str]) -> None:
    for minute, event in enumerate(events):
        send(vacancy, event, _at(minute), PATH_DATA[event])


@pytest.mark.parametrize(
    ("explanation", "outcome"),
    [("Spoedprocedure", "explained"), (None, "not_met"), ("   \n\t ", "not_met"), ("", "not_met")],
)
def test_a_deviation_is_explained_only_with_a_non_blank_explanation(
    send: Any, store: FakeStore, explanation: str | None, outcome: str
) -> None:
    data = {} if explanation is None else {"explanation": explanation}
    for event, path in DEVIATIONS:
        _run(send, event, path)
        assert send(event, event, _at(20), data).outcome == outcome
    expected_alerts = len(DEVIATIONS) if outcome == "not_met" else 0
    assert len(_outbox(store, "not_met")) == expected_alerts


APPROVALS_FLAGGED = (
    "Voor ons jong en dynamisch team zoeken wij een collega met moedertaal Nederlands."
)
APPROVALS_CLEAN = "Voor ons team zoeken wij een collega die goed samenwerkt en helder schrijft."


@pytest.mark.parametrize(
    ("data", "requires_explanation", "outcome"),
    [
        ({}, True, "met"),  # no text: nothing checked
        ({"explanation": "Sjabloontekst"}, True, "met"),
        ({"text": APPROVALS_CLEAN}, True, "met"),
        ({"text": APPROVALS_CLEAN, "explanation": "Ter info"}, True, "met"),
        ({"text": APPROVALS_FLAGGED, "explanation": "Traineeprogramma"}, True, "explained"),
        ({"text": APPROVALS_FLAGGED, "explanation": "Traineeprogramma"}, False, "explained"),
        ({"text": APPROVALS_FLAGGED}, False, "met"),  # a policy that asks no explanation
    ],
)
def test_approving_a_text_ends_explained_exactly_when_flagged_phrases_are_explained(
    data: dict[str, Any], requires_explanation: bool, outcome: str
) -> None:
    policy = default_policy().model_copy(
        update={"text_check_requires_explanation": requires_explanation}
    )
    for run in (chart_send, decide):  # the machine and the engine's table agree
        view = ProcedureView(policy=policy, state="text")
        run(view, "approve_text", **_oracle_data("approve_text", data))
        assert (view.state, view.outcomes["text"], view.decision.outcome) == (
            "biws",
            outcome,
            outcome,
        )


def test_a_late_explanation_turns_not_met_into_explained_and_keeps_the_state(
    send: Any, store: FakeStore
) -> None:
    _run(send, "V1", ["open"])
    send("V1", "deviate_text", _at(1))
    send("V1", "complete_biws", _at(2), VALID_DATA["complete_biws"])
    result = send("V1", "explain", _at(3), {"step": "text", "explanation": " Spoed "})
    assert (result.state, result.outcome) == ("shortlist", "explained")
    procedure = store.procedures["V1"]
    assert (procedure.state, procedure.outcome_text) == ("shortlist", "explained")
    [last] = [row for row in store.transitions if row.seq == 4]
    assert (last.source, last.target, last.data["explanation"]) == (
        "shortlist",
        "shortlist",
        "Spoed",
    )


def test_a_late_explanation_is_accepted_in_a_final_state(send: Any) -> None:
    for final in ("closed", "cancelled"):
        _run(send, final, PATHS[final])
        result = send(final, "explain", _at(30), {"step": "text", "explanation": "Toegelicht"})
        assert (result.state, result.outcome) == (final, "explained")


def test_every_step_can_be_explained_late_once_it_ended_not_met(send: Any) -> None:
    send("V1", "open", _at(0), OPEN)
    send("V1", "deviate_text", _at(1))
    send("V1", "deviate_biws", _at(2))
    send("V1", "deviate_shortlist", _at(3))
    send("V1", "hire", _at(4), VALID_DATA["hire"])
    send("V1", "deviate_onboarding", _at(5))
    send("V1", "register_departure", _at(6), {"leave_date": "2025-06-01"})
    send("V1", "deviate_exit_interview", _at(7), {"explanation": "  "})
    for minute, step in enumerate(["exit_interview", "rooney", "text", "onboarding", "biws"]):
        result = send("V1", "explain", _at(10 + minute), {"step": step, "explanation": "Ja"})
        assert (result.state, result.outcome) == ("closed", "explained")


def test_explain_is_refused_unless_the_step_finished_not_met(send: Any) -> None:
    cases = [
        (["open"], "text", "nog niet afgerond", "text"),
        (["open", "approve_text"], "text", "'met'", "biws"),
        (["open", "deviate_text"], "biws", "nog niet afgerond", "biws"),
        (["open", "approve_text", "deviate_biws"], "biws", "'explained'", "shortlist"),
    ]
    for number, (path, step, reason, state) in enumerate(cases):
        vacancy = f"V{number}"
        _run(send, vacancy, path)
        with pytest.raises(RuleViolation, match=reason) as refused:
            send(vacancy, "explain", _at(20), {"step": step, "explanation": "Toch"})
        assert f"Toestand '{state}'; nu toegestaan:" in str(refused.value)
    # Where a step does await an explanation, the refusal says which one.
    with pytest.raises(RuleViolation, match="toelichten kan voor: text"):
        send("V2", "explain", _at(21), {"step": "rooney", "explanation": "Toch"})


def test_explaining_a_released_rooney_rule_is_refused(send: Any) -> None:
    _to_shortlist(send)
    send("V1", "submit_shortlist", _at(3), {"invited": 4, "diverse": 0})
    send("V1", "submit_shortlist", _at(4), {"invited": 4, "diverse": 0})
    with pytest.raises(RuleViolation, match="'released'"):
        send("V1", "explain", _at(5), {"step": "rooney", "explanation": "Toch"})


def test_explaining_twice_is_refused_the_second_time(send: Any) -> None:
    _run(send, "V1", ["open", "deviate_text"])
    send("V1", "explain", _at(5), {"step": "text", "explanation": "Eerste"})
    with pytest.raises(RuleViolation):
        send("V1", "explain", _at(6), {"step": "text", "explanation": "Tweede"})


def test_explain_needs_a_known_step_and_a_non_blank_explanation(
    send: Any, store: FakeStore
) -> None:
    _run(send, "V1", ["open", "deviate_text"])
    for data in (
        {"step": "text", "explanation": ""},
        {"step": "text", "explanation": "   "},
        {"step": "text"},
        {"step": "selection", "explanation": "Geen stap"},
    ):
        with pytest.raises(InvalidInput):
            send("V1", "explain", _at(5), data)
    assert store.procedures["V1"].outcome_text == "not_met"


# -- BIWS checklist, codes, scale, directorate, cancel --------------------------------


def test_an_incomplete_biws_checklist_is_refused_naming_each_missing_item(send: Any) -> None:
    _run(send, "V1", ["open", "approve_text"])
    checklist = dict(CHECKLIST)
    del checklist["diverse_committee"]
    checklist["independent_scoring"] = False
    with pytest.raises(RuleViolation) as refused:
        send("V1", "complete_biws", _at(5), {"checklist": checklist})
    message = str(refused.value)
    assert "diverse_committee" in message and "independent_scoring" in message
    assert "structured_interview" not in message
    assert "deviate_biws" in message


def test_an_unknown_biws_checklist_item_is_refused(send: Any) -> None:
    _run(send, "V1", ["open", "approve_text"])
    with pytest.raises(RuleViolation, match="gut_feeling"):
        send("V1", "complete_biws", _at(5), {"checklist": CHECKLIST | {"gut_feeling": True}})


def test_an_unknown_destination_is_refused_with_the_known_codes(send: Any) -> None:
    _run(send, "V1", PATHS["employed"])
    with pytest.raises(RuleViolation) as refused:
        send(
            "V1", "register_departure", _at(20), {"leave_date": "2025-06-01", "destination": "mars"}
        )
    message = str(refused.value)
    assert "mars" in message
    for code in ("pensioen", "gemeente_intern", "ontslag_werkgever", "overig"):
        assert code in message


def test_a_departure_without_destination_is_accepted(send: Any) -> None:
    _run(send, "V1", PATHS["employed"])
    result = send("V1", "register_departure", _at(20), {"leave_date": "2025-06-01"})
    assert result.state == "exit_interview"


def test_unknown_exit_reasons_are_refused_with_the_known_codes(send: Any) -> None:
    _run(send, "V1", PATHS["exit_interview"])
    with pytest.raises(RuleViolation) as refused:
        send("V1", "record_exit_interview", _at(20), {"held": True, "reasons": ["salaris", "maan"]})
    message = str(refused.value)
    assert "maan" in message
    for code in ("loopbaan", "inclusie", "reorganisatie"):
        assert code in message


def test_a_declined_exit_interview_without_reasons_is_met(send: Any) -> None:
    _run(send, "V1", PATHS["exit_interview"])
    result = send("V1", "record_exit_interview", _at(20), {"held": False})
    assert (result.state, result.outcome) == ("closed", "met")


def test_a_scale_below_twelve_is_refused(send: Any, store: FakeStore) -> None:
    for scale in (11, 1, 0):
        with pytest.raises(RuleViolation, match="schaal 12"):
            send("V1", "open", _at(0), OPEN | {"scale": scale})
    assert "V1" not in store.procedures


def test_scale_twelve_and_up_opens_a_procedure_in_text(send: Any) -> None:
    for scale in (12, 13, 18):
        assert send(f"V{scale}", "open", _at(0), OPEN | {"scale": scale}).state == "text"


def test_an_unknown_directorate_is_refused(send: Any, store: FakeStore) -> None:
    with pytest.raises(RuleViolation, match="Onbekende directie 'XX-NOPE'"):
        send("V1", "open", _at(0), OPEN | {"directorate": "XX-NOPE"})
    assert "V1" not in store.procedures


def test_cancel_is_allowed_before_onboarding(send: Any) -> None:
    for state in ("text", "biws", "shortlist", "selection"):
        _run(send, state, PATHS[state])
        assert send(state, "cancel", _at(20)).state == "cancelled"


def test_cancel_is_refused_from_onboarding_on(send: Any) -> None:
    for state in ("onboarding", "employed", "exit_interview", "closed"):
        _run(send, state, PATHS[state])
        with pytest.raises(EventNotAllowed, match=f"toestand '{state}'"):
            send(state, "cancel", _at(20))


def test_a_procedure_keeps_the_policy_it_was_opened_under(send: Any, store: FakeStore) -> None:
    from procedures.policy import Policy

    _to_shortlist(send, "OLD")
    stricter = default_policy().to_json() | {"version": 2, "min_scale": 13, "rooney_share": "2/3"}
    store.policies[2] = Policy.model_validate(stricter)
    with pytest.raises(RuleViolation, match="schaal 13"):
        send("NEW", "open", _at(0), OPEN)
    send("NEW", "open", _at(0), OPEN | {"scale": 13})
    send("NEW", "approve_text", _at(1))
    send("NEW", "complete_biws", _at(2), {"checklist": CHECKLIST})
    old = send("OLD", "submit_shortlist", _at(5), {"invited": 4, "diverse": 2})
    new = send("NEW", "submit_shortlist", _at(5), {"invited": 4, "diverse": 2})
    assert (old.outcome, old.state) == ("met", "selection")
    assert (new.outcome, new.state, new.round) == (None, "shortlist", 2)
    versions = {p.vacancy: p.policy_version for p in store.procedures.values()}
    assert versions == {"OLD": 1, "NEW": 2}


def test_a_leave_date_before_the_start_date_is_refused_and_on_it_is_accepted(send: Any) -> None:
    _run(send, "V1", PATHS["employed"])
    start = VALID_DATA["hire"]["start_date"]
    day_before = (date.fromisoformat(start) - timedelta(days=1)).isoformat()
    with pytest.raises(RuleViolation, match=f"vóór de startdatum {start}"):
        send("V1", "register_departure", _at(20), {"leave_date": day_before})
    result = send("V1", "register_departure", _at(21), {"leave_date": start})
    assert result.state == "exit_interview"


# -- decide() against send(): the transition table agrees with the machine --------------
#
# An oracle test. ``send`` runs the python-statemachine machine; ``decide`` walks the table
# derived from it. Both get every chart state, every event, rounds 1 to one past the
# policy's last round, outcomes with each step unfinished, not_met, met, explained (and the
# Rooney Rule released), with and without a start date, and for each event payloads that
# reach every branch of its validators and guards. They must give the same answer.

EXCLUSIONARY_TEXT = (
    "Voor ons jong en dynamisch team zoeken wij een collega met moedertaal Nederlands."
)
CLEAN_TEXT = "Voor ons team zoeken wij een collega die goed samenwerkt en helder schrijft."
ORACLE_STEPS = ("text", "biws", "rooney", "onboarding", "exit_interview")
ORACLE_START = date(2025, 3, 1)
_INCOMPLETE = {item: True for item in list(CHECKLIST)[1:]}  # the first item is missing
_DEVIATIONS = {
    event: [{}, {"explanation": "Spoed"}, {"explanation": " \t "}]
    for event in (
        "deviate_text",
        "deviate_biws",
        "deviate_shortlist",
        "deviate_onboarding",
        "deviate_exit_interview",
    )
}
ORACLE_PAYLOADS: dict[str, list[dict[str, Any]]] = _DEVIATIONS | {
    "open": [OPEN | {"scale": scale} for scale in (0, 1, 11, 12, 13, 18)],
    "approve_text": [
        {},
        {"explanation": "Goedgekeurd"},
        {"text": CLEAN_TEXT},
        {"text": CLEAN_TEXT, "explanation": "Goedgekeurd"},
        {"text": EXCLUSIONARY_TEXT},
        {"text": EXCLUSIONARY_TEXT, "explanation": "  "},  # blank: no explanation
        {"text": EXCLUSIONARY_TEXT, "explanation": "Traineeprogramma"},
    ],
    "complete_biws": [
        {"checklist": CHECKLIST},
        {"checklist": {}},
        {"checklist": _INCOMPLETE},
        {"checklist": CHECKLIST | {"independent_scoring": False}},
        {"checklist": CHECKLIST | {"gut_feeling": True}},
        {"checklist": _INCOMPLETE | {"gut_feeling": False}},  # unknown and missing
    ],
    # Rooney Rule met (at and above the share), missed, and more diverse than invited.
    "submit_shortlist": [
        {"invited": invited, "diverse": diverse}
        for invited, diverse in [
            (4, 2),  # met: exactly the share
            (1, 1),  # met: above it
            (5, 5),
            (5, 3),
            (4, 1),  # missed
            (3, 0),
            (5, 2),
            (3, 4),  # more diverse than invited
            (1, 2),
        ]
    ],
    "hire": [VALID_DATA["hire"]],
    "cancel": [{}, {"reason": "Ingetrokken"}],
    "complete_onboarding": [{}],
    # Before, on and after the start date; no, a known and an unknown destination.
    "register_departure": [
        {"leave_date": leave.isoformat()} | ({"destination": code} if code else {})
        for leave in (ORACLE_START - timedelta(days=1), ORACLE_START, date(2025, 6, 1))
        for code in (None, "pensioen", "mars")
    ],
    "record_exit_interview": [
        {"held": True, "reasons": ["loopbaan"]},
        {"held": True, "reasons": ["loopbaan", "inclusie", "reorganisatie"]},
        {"held": False},
        {"held": True, "reasons": ["maan"]},
        {"held": True, "reasons": ["salaris", "maan", "zon"]},
    ],
    "explain": [{"step": step, "explanation": "Achteraf toegelicht"} for step in ORACLE_STEPS],
}


def _oracle_outcomes() -> list[dict[str, str | None]]:
    """All steps unfinished; each step alone not_met, met or explained; a mixed history."""
    none: dict[str, str | None] = dict.fromkeys(ORACLE_STEPS)
    single = [
        none | {step: outcome}
        for outcome in ("not_met", "met", "explained")
        for step in ORACLE_STEPS
    ]
    mixed = {"text": "explained", "biws": "not_met", "rooney": "released", "onboarding": "met"}
    return [none, *single, none | {"rooney": "released"}, none | mixed]


def _oracle_view(
    policy: Any,
    state: str | None,
    number: int,
    outcomes: dict[str, str | None],
    decision: Decision,
    start: date | None,
) -> ProcedureView:
    """A fresh view with its own outcomes dict, so neither run can change another's."""
    return ProcedureView(policy, state, number, dict(outcomes), decision, start)


def _oracle_data(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments the engine sends: the parsed data and the text evidence."""
    raw = {"id": "x", "vacancy": "V", "event": event, "at": "2025-01-06T09:00", "actor": "a"}
    data = parse_data(parse_event(raw | {"data": payload}))
    return {"data": data, "evidence": text_evidence(data)}


def _oracle_run(run: Any, view: ProcedureView, event: str, kwargs: dict[str, Any]) -> tuple:
    """What ``run`` made of the event: refused, a rule violation, or the resulting view."""
    try:
        run(view, event, **kwargs)
    except (TransitionNotAllowed, NoTransition) as refused:
        # The pair expected is TransitionNotAllowed from send, NoTransition from decide.
        return ("refused", type(refused).__name__)
    except RuleViolation as violation:
        return ("violation", str(violation))
    except Exception as error:  # any other error is a disagreement to report, not a crash
        return ("error", type(error).__name__, str(error))
    return ("accepted", view.state, view.round, view.outcomes, view.decision)


def _oracle_cases(policy: Any) -> Iterator[tuple[str | None, int, dict, date | None, str, int]]:
    """(state, round, outcomes, start date, event, payload number) for every case compared.

    Where the chart has a transition for the event in the state, every payload meets every
    setting of round, outcomes and start date. Where it has none, no setting can allow the
    event (guards belong to transitions), so each payload meets the first and last setting.
    """
    rounds = range(1, policy.rooney_max_rounds + 2)
    settings = list(itertools.product(rounds, _oracle_outcomes(), (None, ORACLE_START)))
    in_chart = {
        (source.id, event.id)
        for source in VacancyChart.states
        for transition in source.transitions
        for event in transition.events
    }
    for state in [None, *(state.id for state in VacancyChart.states)]:
        for event in chart_events:
            some = (
                settings if (state or "new", event) in in_chart else settings[:: len(settings) - 1]
            )
            for (number, outcomes, start), index in itertools.product(
                some, range(len(ORACLE_PAYLOADS[event]))
            ):
                yield state, number, outcomes, start, event, index


def test_decide_gives_the_same_answer_as_the_state_machine_for_every_case() -> None:
    policy = default_policy()
    payloads = {
        event: [_oracle_data(event, payload) for payload in ORACLE_PAYLOADS[event]]
        for event in chart_events
    }
    stale = Decision(step="biws", outcome="met")  # the previous event's, to be replaced
    kinds: dict[str, int] = {"accepted": 0, "refused": 0, "violation": 0}
    accepted_keys: set[tuple[str, str]] = set()
    violated_keys: set[tuple[str, str]] = set()
    shortlist_decisions: set[tuple[str | None, str | None, bool]] = set()
    differences: list[str] = []
    compared = 0
    for state, number, outcomes, start, event, index in _oracle_cases(policy):
        setting = (policy, state, number, outcomes, stale, start)
        by_machine, by_table, before = (_oracle_view(*setting) for _ in range(3))
        expected = _oracle_run(chart_send, by_machine, event, payloads[event][index])
        actual = _oracle_run(decide, by_table, event, payloads[event][index])
        compared += 1
        case = (
            f"state={state!r} round={number} outcomes={outcomes} start_date={start} "
            f"event={event} payload={ORACLE_PAYLOADS[event][index]}"
        )
        if expected == ("refused", "TransitionNotAllowed"):
            agree = actual == ("refused", "NoTransition")
        else:
            agree = expected == actual
        if not agree:
            differences.append(f"{case}\n  send:   {expected}\n  decide: {actual}")
            continue
        if actual[0] != "accepted" and by_table != before:
            differences.append(f"{case}\n  decide refused but changed the view: {by_table}")
        kinds[actual[0]] = kinds.get(actual[0], 0) + 1
        key = (state or "new", event)
        if actual[0] == "accepted":
            accepted_keys.add(key)
            if event == "submit_shortlist":
                decision = by_table.decision
                shortlist_decisions.add((decision.step, decision.outcome, decision.round_failed))
        elif actual[0] == "violation":
            violated_keys.add(key)
    assert not differences, f"{len(differences)} of {compared} cases differ:\n" + "\n".join(
        differences[:20]
    )
    assert compared >= 500
    assert set(kinds) == {"accepted", "refused", "violation"} and all(kinds.values()), kinds
    assert accepted_keys == set(TRANSITIONS)
    with_validators = {
        key for key, rules in TRANSITIONS.items() if any(r.validators for r in rules)
    }
    assert with_validators <= violated_keys
    # Each of the three shortlist transitions was taken: met, another round, released.
    assert shortlist_decisions == {
        ("rooney", "met", False),
        (None, None, True),
        ("rooney", "released", False),
    }


def test_decide_was_checked_against_the_installed_python_statemachine_release() -> None:
    """decide() copies the machine's semantics (which callbacks run, in which order), and a
    new release may change them where the oracle's cases do not look. Upgrading means: read
    its changelog, run the oracle test above, then set ``CHECKED_WITH_STATEMACHINE``."""
    installed = importlib.metadata.version("python-statemachine")
    assert installed == CHECKED_WITH_STATEMACHINE, (
        f"python-statemachine {installed} is installed; decide() was checked against "
        f"{CHECKED_WITH_STATEMACHINE}. Check the table again, then update the constant."
    )


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("allow_event_without_transition", True),
        ("enable_self_transition_entries", True),
        ("atomic_configuration_update", False),
        ("catch_errors_as_events", True),
    ],
)
def test_the_table_is_not_derived_from_a_chart_whose_flags_decide_does_not_follow(
    flag: str, value: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(VacancyChart, flag, value)
    with pytest.raises(NotImplementedError, match=flag):
        _table()
