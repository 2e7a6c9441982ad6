"""Random event sequences, allowed and not, valid and not, through the engine, with invariants
checked after every step (Hypothesis stateful testing)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, MetaData, delete, text
from sqlmodel import Session, select
from support import EVENTS

from models import Procedure, Transition
from procedures.audit import verify_log
from procedures.engine import apply_event
from procedures.errors import ConflictError, RefusedError
from procedures.events import parse_event
from procedures.policy import AMSTERDAM, default_policy

POLICY = default_policy()
STEPS = ("text", "biws", "rooney", "onboarding", "exit_interview")
# Organisation and policy survive between examples; everything the engine writes is cleared.
KEPT_TABLES = {"cluster", "directorate", "policy_version", "alembic_version"}

explanation = st.sampled_from([None, "", "   ", "Spoed", " Toelichting "])
CLEAN = "Voor ons team zoeken wij een collega die goed samenwerkt en helder schrijft."
FLAGGED = "Voor ons jong en dynamisch team zoeken wij een collega met moedertaal Nederlands."
checklist = st.sampled_from(
    [
        dict.fromkeys(POLICY.biws_checklist, True),
        dict.fromkeys(POLICY.biws_checklist[1:], True),
        dict.fromkeys(POLICY.biws_checklist, True) | {"structured_interview": False},
        dict.fromkeys(POLICY.biws_checklist, True) | {"onderbuik": True},
    ]
)


def _optional(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return values.map(lambda v: {} if v is None else {key: v})


DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "open": st.fixed_dictionaries(
        {
            "directorate": st.sampled_from(["SOC-OJZ", "SD-WSP", "XX-NOPE"]),
            "scale": st.integers(10, 16),
            "title": st.sampled_from(["Teamleider", " "]),
            "kind": st.sampled_from(["internal", "external", "freelance"]),
        }
    ),
    "approve_text": st.fixed_dictionaries(
        {}, optional={"text": st.sampled_from([CLEAN, FLAGGED]), "explanation": explanation}
    ).map(lambda d: {k: v for k, v in d.items() if v is not None}),
    "deviate_text": _optional("explanation", explanation),
    "complete_biws": st.fixed_dictionaries({"checklist": checklist}),
    "deviate_biws": _optional("explanation", explanation),
    "submit_shortlist": st.fixed_dictionaries(
        {"invited": st.integers(-1, 8), "diverse": st.integers(-1, 9)}
    ),
    "deviate_shortlist": _optional("explanation", explanation),
    "hire": st.fixed_dictionaries(
        {
            "employee": st.sampled_from(["P123456", "Jan Jansen"]),
            "start_date": st.just("2025-03-01"),
        }
    ),
    "cancel": _optional("reason", st.sampled_from([None, "Ingetrokken", " "])),
    "complete_onboarding": st.just({}),
    "deviate_onboarding": _optional("explanation", explanation),
    "register_departure": st.fixed_dictionaries(
        {"leave_date": st.just("2025-09-01")},
        optional={"destination": st.sampled_from(["pensioen", "overig", "maan"])},
    ),
    "record_exit_interview": st.fixed_dictionaries(
        {"held": st.booleans()},
        optional={"reasons": st.lists(st.sampled_from(["loopbaan", "salaris", "onbekend"]))},
    ),
    "deviate_exit_interview": _optional("explanation", explanation),
    "explain": st.fixed_dictionaries(
        {
            "step": st.sampled_from([*STEPS, "selection"]),
            "explanation": st.sampled_from(["Alsnog toegelicht", "", "  "]),
        }
    ),
}
# Data the chart accepts (deviations may still end not_met: a blank explanation is valid).
VALID: dict[str, st.SearchStrategy[dict[str, Any]]] = DATA | {
    "open": st.fixed_dictionaries(
        {
            "directorate": st.sampled_from(["SOC-OJZ", "SD-WSP"]),
            "scale": st.integers(12, 16),
            "title": st.just("Teamleider"),
            "kind": st.sampled_from(["internal", "external"]),
        }
    ),
    "complete_biws": st.just({"checklist": dict.fromkeys(POLICY.biws_checklist, True)}),
    "submit_shortlist": st.integers(1, 8).flatmap(
        lambda n: st.fixed_dictionaries({"invited": st.just(n), "diverse": st.integers(0, n)})
    ),
    "hire": st.just({"employee": "P123456", "start_date": "2025-03-01"}),
    "register_departure": st.just({"leave_date": "2025-09-01", "destination": "pensioen"}),
    "record_exit_interview": st.fixed_dictionaries(
        {"held": st.booleans(), "reasons": st.lists(st.sampled_from(POLICY.exit_reasons))}
    ),
    "explain": st.fixed_dictionaries(
        {"step": st.sampled_from(STEPS), "explanation": st.just("Alsnog toegelicht")}
    ),
}
# Where each event can apply (DOMAIN.md), used only to steer sequences deeper.
ALLOWED_IN = {
    "open": ("new",),
    "approve_text": ("text",),
    "deviate_text": ("text",),
    "complete_biws": ("biws",),
    "deviate_biws": ("biws",),
    "submit_shortlist": ("shortlist",),
    "deviate_shortlist": ("shortlist",),
    "hire": ("selection",),
    "cancel": ("text", "biws", "shortlist", "selection"),
    "complete_onboarding": ("onboarding",),
    "deviate_onboarding": ("onboarding",),
    "register_departure": ("employed",),
    "record_exit_interview": ("exit_interview",),
    "deviate_exit_interview": ("exit_interview",),
}
JUNK = st.dictionaries(
    st.sampled_from(["foo", "invited", "step", "checklist"]), st.integers(), max_size=2
)


def _clear(engine: Engine, metadata: MetaData) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                connection.execute(delete(table))


Snapshot = tuple[dict[str, int], dict[str, dict[str, Any]]]


def _snapshot(engine: Engine) -> Snapshot:
    """Row counts of the tables the engine writes, and every procedure row in full."""
    with engine.connect() as connection:
        counts = {
            name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            for name in ("procedure", "transition", "outbox", "exit_reason")
        }
        rows = connection.execute(text("SELECT * FROM procedure")).mappings()
        procedures = {row["vacancy"]: dict(row) for row in rows}
    return counts, procedures


def test_random_event_sequences_keep_the_engine_invariants(engine: Engine) -> None:
    metadata = MetaData()
    metadata.reflect(engine)

    class EngineMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            _clear(engine, metadata)
            self.accepted = 0
            self.sent = 0
            self.clock = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
            self.ids: list[str] = []

        @rule(
            vacancy=st.sampled_from(["V-A", "V-B"]),
            event=st.sampled_from(EVENTS),
            data=st.data(),
            minutes=st.one_of(st.integers(0, 60 * 24 * 40), st.integers(-90, -1)),
            reuse=st.integers(0, 9),
            naive=st.booleans(),
        )
        def fire(
            self, vacancy: str, event: str, data: Any, minutes: int, reuse: int, naive: bool
        ) -> None:
            """Any event, any time (sometimes earlier), sometimes a reused id or junk data."""
            payload = data.draw(st.one_of(DATA[event], JUNK) if reuse == 9 else DATA[event])
            self._send(vacancy, event, payload, minutes, reuse == 0, naive)

        def _send(
            self,
            vacancy: str,
            event: str,
            payload: dict[str, Any],
            minutes: int,
            reuse_id: bool,
            naive: bool,
        ) -> None:
            moment = self.clock + timedelta(minutes=minutes)
            if minutes >= 0:
                self.clock = moment
            self.sent += 1
            event_id = self.ids[-1] if reuse_id and self.ids else f"s-{self.sent}"
            at = (
                moment.astimezone(AMSTERDAM).replace(tzinfo=None).isoformat()
                if naive
                else moment.isoformat().replace("+00:00", "Z")
            )
            raw = {
                "id": event_id,
                "vacancy": vacancy,
                "event": event,
                "at": at,
                "actor": "hypothesis",
                "data": payload,
            }
            before = _snapshot(engine)
            try:
                with Session(engine) as session:
                    result = apply_event(session, parse_event(raw), origin="test")
                    session.commit()
            except (RefusedError, ConflictError):
                assert _snapshot(engine) == before, "a refused event changed the database"
                return
            self.ids.append(event_id)
            if result.status == "duplicate":
                assert _snapshot(engine) == before, "a duplicate changed the database"
                return
            self.accepted += 1
            after = _snapshot(engine)[1]
            self._check_outcomes(before[1], after, vacancy, event)
            if event == "approve_text":  # explained exactly when flagged phrases were explained
                explained = payload.get("text") == FLAGGED and bool(payload.get("explanation"))
                expected = "explained" if explained else "met"
                assert after[vacancy]["outcome_text"] == expected, payload

        def _check_outcomes(
            self,
            before: dict[str, dict[str, Any]],
            after: dict[str, dict[str, Any]],
            vacancy: str,
            event: str,
        ) -> None:
            for name, row in before.items():
                for step in STEPS:
                    old, new = row[f"outcome_{step}"], after[name][f"outcome_{step}"]
                    if old is None or old == new:
                        continue
                    assert (name, old, new, event) == (
                        vacancy,
                        "not_met",
                        "explained",
                        "explain",
                    ), f"outcome of {step} changed {old} -> {new} by {event}"

        @rule(vacancy=st.sampled_from(["V-A", "V-B"]), data=st.data())
        def follow_the_chart(self, vacancy: str, data: Any) -> None:
            """Mostly events the chart allows now, so that sequences reach the later states."""
            with Session(engine) as session:
                procedure = session.get(Procedure, vacancy)
                state = procedure.state if procedure else "new"
            choices = [e for e, states in ALLOWED_IN.items() if state in states] or ["explain"]
            if len(choices) > 1 and data.draw(st.integers(0, 4)):
                choices = [e for e in choices if e != "cancel"]  # cancel ends a sequence early
            event = data.draw(st.sampled_from(choices))
            valid = data.draw(st.integers(0, 4)) > 0
            payload = data.draw(VALID[event] if valid else DATA[event])
            self._send(
                vacancy, event, payload, data.draw(st.integers(0, 60 * 24 * 30)), False, False
            )

        @invariant()
        def log_chain_and_states_agree(self) -> None:
            """Log length = accepted events; the chain verifies; state = last target."""
            with Session(engine) as session:
                checked, breaks = verify_log(session)
                assert (checked, breaks) == (self.accepted, [])
                for procedure in session.exec(select(Procedure)):
                    last = session.exec(
                        select(Transition)
                        .where(Transition.vacancy == procedure.vacancy)
                        .order_by(Transition.seq.desc())  # type: ignore[attr-defined]
                    ).first()
                    assert last is not None
                    assert procedure.state == last.target
                    assert procedure.seq == last.seq and procedure.head_hash == last.hash

    run_state_machine_as_test(
        EngineMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
