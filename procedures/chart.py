"""The state chart of one vacancy procedure (python-statemachine 3), pure: no I/O.

The chart decides which events are allowed, validates their data against the policy and
records its decision (step, outcome, round) on the model it runs on.

``VacancyChart`` is the only definition of the rules. The engine decides with
:func:`decide`, which walks a transition table derived once from the chart's own states,
transitions and callbacks: the same validators, guards and actions, called in the order
python-statemachine calls them, without building an event queue per event (measured in the
engine in ``docs/performance.md``). ``tests/test_chart.py`` checks that both give the same
answer, and that the installed python-statemachine is the release the table was checked on.
"""

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from statemachine import Event, State, StateMachine
from statemachine.callbacks import CallbackGroup

from procedures.errors import RuleViolation
from procedures.policy import Policy

STEPS = {"text": "I2", "biws": "I3", "rooney": "I4", "onboarding": "I5", "exit_interview": "I6"}
STEP_OF_EVENT = {
    "approve_text": "text",
    "deviate_text": "text",
    "complete_biws": "biws",
    "deviate_biws": "biws",
    "submit_shortlist": "rooney",
    "deviate_shortlist": "rooney",
    "complete_onboarding": "onboarding",
    "deviate_onboarding": "onboarding",
    "record_exit_interview": "exit_interview",
    "deviate_exit_interview": "exit_interview",
}
STEP_LABELS = {
    "text": "I&D-vacaturetekst",
    "biws": "BIWS-procedure",
    "rooney": "Rooney Rule",
    "onboarding": "onboarding",
    "exit_interview": "exitgesprek",
}
FINAL_STATES = frozenset({"closed", "cancelled"})


@dataclass
class Decision:
    """What the chart decided for one event."""

    step: str | None = None
    outcome: str | None = None
    round_failed: bool = False

    @property
    def indicator(self) -> str | None:
        return STEPS[self.step] if self.step else None


@dataclass
class ProcedureView:
    """The chart's model: just what the rules need, copied from and back to storage."""

    policy: Policy
    state: str | None = None
    round: int = 1
    outcomes: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(STEPS))
    decision: Decision = field(default_factory=Decision)
    start_date: date | None = None  # the hire's first working day, once known


class VacancyChart(StateMachine):
    """Text, BIWS, Rooney shortlist, selection, onboarding, employment and exit interview."""

    # What the rules and decide() rely on, stated rather than inherited: an event without a
    # transition is refused, a self-transition (explain) enters no state, the actions run
    # before the state changes, and a validator's error reaches the sender instead of
    # becoming an error event.
    allow_event_without_transition = False
    enable_self_transition_entries = False
    atomic_configuration_update = True
    catch_errors_as_events = False

    new = State("Nieuw", initial=True)
    text = State("Vacaturetekst (I2)")
    biws = State("BIWS-procedure (I3)")
    shortlist = State("Shortlist, Rooney Rule (I4)")
    selection = State("Selectie")
    onboarding = State("Onboarding (I5)")
    employed = State("In dienst")
    exit_interview = State("Exitgesprek (I6)")
    closed = State("Afgesloten")
    cancelled = State("Geannuleerd")

    open = Event(new.to(text, validators="check_scale"), name="openen")
    approve_text = Event(
        text.to(biws, validators="check_text_evidence", on="approve"), name="tekst goedkeuren"
    )
    deviate_text = Event(text.to(biws, on="deviate"), name="tekst afwijken")
    complete_biws = Event(
        biws.to(shortlist, validators="check_checklist", on="meet"), name="BIWS afronden"
    )
    deviate_biws = Event(biws.to(shortlist, on="deviate"), name="BIWS afwijken")
    submit_shortlist = Event(
        shortlist.to(selection, validators="check_shortlist", cond="rooney_met", on="meet")
        | shortlist.to.itself(cond="rounds_left", on="next_round")
        | shortlist.to(selection, on="release"),
        name="shortlist indienen",
    )
    deviate_shortlist = Event(shortlist.to(selection, on="deviate"), name="shortlist afwijken")
    hire = Event(selection.to(onboarding), name="aannemen")
    cancel = Event(
        text.to(cancelled) | biws.to(cancelled) | shortlist.to(cancelled) | selection.to(cancelled),
        name="annuleren",
    )
    complete_onboarding = Event(onboarding.to(employed, on="meet"), name="onboarding afronden")
    deviate_onboarding = Event(onboarding.to(employed, on="deviate"), name="onboarding afwijken")
    register_departure = Event(
        employed.to(exit_interview, validators="check_departure"), name="vertrek registreren"
    )
    record_exit_interview = Event(
        exit_interview.to(closed, validators="check_reasons", on="meet"),
        name="exitgesprek vastleggen",
    )
    deviate_exit_interview = Event(
        exit_interview.to(closed, on="deviate"), name="exitgesprek afwijken"
    )
    explain = Event(
        text.to.itself(validators="check_explain", on="amend")
        | biws.to.itself(validators="check_explain", on="amend")
        | shortlist.to.itself(validators="check_explain", on="amend")
        | selection.to.itself(validators="check_explain", on="amend")
        | onboarding.to.itself(validators="check_explain", on="amend")
        | employed.to.itself(validators="check_explain", on="amend")
        | exit_interview.to.itself(validators="check_explain", on="amend")
        | closed.to.itself(validators="check_explain", on="amend")
        | cancelled.to.itself(validators="check_explain", on="amend"),
        name="toelichten",
    )

    model: ProcedureView

    # -- validators: raise RuleViolation with the reason --------------------------------
    def check_scale(self, data: Any) -> None:
        minimum = self.model.policy.min_scale
        if data.scale < minimum:
            raise RuleViolation(
                f"Schaal {data.scale} valt buiten de prestatieafspraken: "
                f"alleen vacatures vanaf schaal {minimum} worden gevolgd."
            )

    def check_text_evidence(self, data: Any, evidence: Any = None) -> None:
        if not evidence or not evidence["exclusionary"]:
            return
        if self.model.policy.text_check_requires_explanation and not data.explanation:
            findings = evidence["result"]["findings"]
            phrases = ", ".join(f"'{f['phrase']}' ({f['category']})" for f in findings)
            raise RuleViolation(
                f"De vacaturetekst bevat uitsluitende formuleringen: {phrases}. Pas de tekst "
                "aan, of geef een toelichting (explanation) om de tekst toch goed te keuren."
            )

    def check_checklist(self, data: Any) -> None:
        required = self.model.policy.biws_checklist
        unknown = sorted(set(data.checklist) - set(required))
        if unknown:
            raise RuleViolation(
                f"Onbekende BIWS-onderdelen: {', '.join(unknown)}. "
                f"Bekende onderdelen: {', '.join(required)}."
            )
        missing = [item for item in required if data.checklist.get(item) is not True]
        if missing:
            raise RuleViolation(
                "De BIWS-checklist is niet volledig; ontbrekend of niet voldaan: "
                f"{', '.join(missing)}. Gebruik deviate_biws als de procedure afwijkt."
            )

    def check_shortlist(self, data: Any) -> None:
        if data.diverse > data.invited:
            # The count itself is not repeated: refusals end up in logs and import summaries.
            raise RuleViolation(
                "Het aantal kandidaten met een buiten-Europese achtergrond (diverse) kan niet "
                f"groter zijn dan het aantal uitgenodigden ({data.invited})."
            )

    def check_departure(self, data: Any) -> None:
        start = self.model.start_date
        if start is not None and data.leave_date < start:
            raise RuleViolation(
                f"De vertrekdatum {data.leave_date.isoformat()} ligt vóór de startdatum "
                f"{start.isoformat()} van de medewerker; een vertrekdatum moet op of na de "
                "startdatum liggen."
            )
        known = self.model.policy.destinations
        if data.destination is not None and data.destination not in known:
            raise RuleViolation(
                f"Onbekende bestemming '{data.destination}'. Bekende codes: {', '.join(known)}."
            )

    def check_reasons(self, data: Any) -> None:
        known = self.model.policy.exit_reasons
        unknown = [code for code in data.reasons if code not in known]
        if unknown:
            raise RuleViolation(
                f"Onbekende vertrekredenen: {', '.join(unknown)}. "
                f"Bekende codes: {', '.join(known)}."
            )

    def check_explain(self, data: Any) -> None:
        outcome = self.model.outcomes.get(data.step)
        label = STEP_LABELS[data.step]
        if outcome is None:
            raise RuleViolation(
                f"De stap {label} ({data.step}) is nog niet afgerond; toelichten kan pas "
                f"achteraf bij een afwijking zonder toelichting (not_met). {self._now_allowed()}"
            )
        if outcome != "not_met":
            raise RuleViolation(
                f"De stap {label} ({data.step}) heeft uitkomst '{outcome}'; alleen een "
                f"uitkomst 'not_met' kan achteraf worden toegelicht. {self._now_allowed()}"
            )

    def _now_allowed(self) -> str:
        # Every refusal names the state and what may be sent instead (DOMAIN.md).
        view = self.model
        awaiting = [step for step, outcome in view.outcomes.items() if outcome == "not_met"]
        events = ", ".join(allowed_events(view)) or "geen"
        text = f"Toestand '{view.state}'; nu toegestaan: {events}"
        if awaiting:
            text += f" (toelichten kan voor: {', '.join(awaiting)})"
        return text + "."

    # -- guards ---------------------------------------------------------------------------
    def rooney_met(self, data: Any) -> bool:
        return self.model.policy.rooney_met(data.invited, data.diverse)

    def rounds_left(self) -> bool:
        return self.model.round < self.model.policy.rooney_max_rounds

    # -- actions: record the decision -------------------------------------------------
    def _finish(self, event: str, outcome: str) -> None:
        step = STEP_OF_EVENT[event]
        self.model.outcomes[step] = outcome
        self.model.decision = Decision(step=step, outcome=outcome)

    def meet(self, event: str) -> None:
        self._finish(event, "met")

    def approve(self, event: str, data: Any, evidence: Any = None) -> None:
        # Exclusionary phrases approved with an explanation: a deviation, explained ("pas toe
        # of leg uit"). A text without findings, or no text at all, meets the agreement; so
        # does one with findings under a policy that asks no explanation for them.
        flagged = bool(evidence and evidence["exclusionary"])
        self._finish(event, "explained" if flagged and data.explanation else "met")

    def deviate(self, event: str, data: Any) -> None:
        self._finish(event, "explained" if data.explanation else "not_met")

    def release(self, event: str) -> None:
        self._finish(event, "released")

    def next_round(self) -> None:
        self.model.round += 1
        self.model.decision = Decision(round_failed=True)

    def amend(self, data: Any) -> None:
        self.model.outcomes[data.step] = "explained"
        self.model.decision = Decision(step=data.step, outcome="explained")


EVENTS: tuple[str, ...] = tuple(e.id for e in VacancyChart.events)  # type: ignore[attr-defined]
STATE_LABELS: dict[str, str] = {s.id: s.name for s in VacancyChart.states}
EVENT_LABELS: dict[str, str] = {e.id: e.name for e in VacancyChart.events}  # type: ignore[attr-defined]
# Which events each state has a transition for, derived once from the chart (guards aside).
EVENTS_BY_STATE: dict[str, tuple[str, ...]] = {
    state.id: tuple(dict.fromkeys(e.id for t in state.transitions for e in t.events))
    for state in VacancyChart.states
}

_local = threading.local()


def send(view: ProcedureView, event: str, **kwargs: Any) -> None:
    """Run ``event`` on the chart for ``view``; the view receives the new state and decision.

    Building a machine costs about 1 ms (its callbacks are resolved per instance), so each
    thread keeps one machine on a scratch view and loads the view into it; the machine
    follows the state field of its model.
    """
    machine, scratch = _thread_machine()
    scratch.policy, scratch.state, scratch.round = view.policy, view.state or "new", view.round
    scratch.outcomes, scratch.decision = dict(view.outcomes), Decision()
    scratch.start_date = view.start_date
    machine.send(event, **kwargs)
    view.state, view.round, view.outcomes = scratch.state, scratch.round, scratch.outcomes
    view.decision = scratch.decision


def _thread_machine() -> tuple[VacancyChart, ProcedureView]:
    cached = getattr(_local, "machine", None)
    if cached is None:
        from procedures.policy import default_policy

        scratch = ProcedureView(policy=default_policy())
        cached = _local.machine = (VacancyChart(scratch, state_field="state"), scratch)
    return cached


class NoTransition(Exception):
    """The chart has no transition for this event in this state (or its guards all said no)."""


@dataclass(frozen=True)
class _Rule:
    """One transition of the chart, as the table holds it."""

    target: str
    validators: tuple[str, ...]
    conds: tuple[tuple[str, bool], ...]  # (guard, the value it must return)
    actions: tuple[str, ...]


_SUPPORTED = {CallbackGroup.VALIDATOR, CallbackGroup.COND, CallbackGroup.ON}
_RELIED_ON = {
    "allow_event_without_transition": False,
    "enable_self_transition_entries": False,
    "atomic_configuration_update": True,
    "catch_errors_as_events": False,
}
# The python-statemachine release whose semantics the table was checked against (the oracle
# test in tests/test_chart.py); another release must be checked again before it is used.
CHECKED_WITH_STATEMACHINE = "3.2.2"


def _table() -> dict[tuple[str, str], tuple[_Rule, ...]]:
    """(state, event) to the chart's transitions for it, in the order the chart tries them.

    Only what this chart uses is supported (validators, guards and ``on`` actions named on
    the transition); anything else, such as an ``on_enter_<state>`` method, stops the import
    instead of being silently skipped.
    """
    for flag, relied_on in _RELIED_ON.items():
        if getattr(VacancyChart, flag) != relied_on:
            raise NotImplementedError(f"decide() assumes {flag} = {relied_on}")
    table: dict[tuple[str, str], list[_Rule]] = {}
    for state in VacancyChart.states:
        for name in ("enter", "exit"):
            if hasattr(VacancyChart, f"on_{name}_{state.id}"):
                raise NotImplementedError(f"decide() does not run on_{name}_{state.id}")
        for transition in state.transitions:
            specs = list(transition.validators.list)
            for spec in specs:
                if spec.is_convention:
                    if hasattr(VacancyChart, str(spec.attr_name)):
                        raise NotImplementedError(f"decide() does not run {spec.attr_name}")
                elif spec.group not in _SUPPORTED or not isinstance(spec.func, str):
                    raise NotImplementedError(f"decide() does not run {spec.func!r}")
            named = [spec for spec in specs if not spec.is_convention]
            rule = _Rule(
                target=transition.target.id,
                validators=tuple(s.func for s in named if s.group == CallbackGroup.VALIDATOR),
                conds=tuple(
                    (s.func, bool(s.expected_value)) for s in named if s.group == CallbackGroup.COND
                ),
                actions=tuple(s.func for s in named if s.group == CallbackGroup.ON),
            )
            for event in transition.events:
                table.setdefault((transition.source.id, event.id), []).append(rule)
    return {key: tuple(rules) for key, rules in table.items()}


TRANSITIONS = _table()


class _Rules:
    """The chart's callbacks run as plain functions on a view (what ``self.model`` reads);
    the chart's own helpers (``self._finish``) are looked up on the chart."""

    def __init__(self, view: ProcedureView) -> None:
        self.model = view

    def __getattr__(self, name: str) -> Any:
        return getattr(VacancyChart, name).__get__(self)


def _parameters(name: str) -> tuple[str, ...]:
    function = getattr(VacancyChart, name)
    return tuple(inspect.signature(function).parameters)[1:]  # without self


_CALLBACKS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    name: (getattr(VacancyChart, name), _parameters(name))
    for rules in TRANSITIONS.values()
    for rule in rules
    for name in (*rule.validators, *(c for c, _ in rule.conds), *rule.actions)
}


def decide(view: ProcedureView, event: str, **kwargs: Any) -> None:
    """Run ``event`` for ``view`` through the chart's transition table.

    Same contract as :func:`send`: the view receives the new state and decision; a validator
    raises its ``RuleViolation``; no transition whose guards pass raises :class:`NoTransition`
    (where the machine raises ``TransitionNotAllowed``). The view is left untouched unless
    the event is accepted.
    """
    state = view.state or "new"
    rules = TRANSITIONS.get((state, event))
    if not rules:
        raise NoTransition(event, state)
    scratch = ProcedureView(
        policy=view.policy,
        state=state,
        round=view.round,
        outcomes=dict(view.outcomes),
        start_date=view.start_date,
    )
    runner = _Rules(scratch)
    arguments = kwargs | {"event": event}
    for rule in rules:
        for name in rule.validators:
            _call(runner, name, arguments)
        if all(bool(_call(runner, name, arguments)) == expected for name, expected in rule.conds):
            for name in rule.actions:  # as the machine runs them: before the state changes
                _call(runner, name, arguments)
            scratch.state = rule.target
            view.state, view.round, view.outcomes = scratch.state, scratch.round, scratch.outcomes
            view.decision = scratch.decision
            return
    raise NoTransition(event, state)


def _call(runner: _Rules, name: str, arguments: dict[str, Any]) -> Any:
    function, parameters = _CALLBACKS[name]
    return function(runner, **{p: arguments.get(p) for p in parameters})


def events_in_state(view: ProcedureView) -> tuple[str, ...]:
    """Events the chart has a transition for in the view's state (guards not evaluated)."""
    return EVENTS_BY_STATE[view.state or "new"]


def allowed_events(view: ProcedureView) -> list[str]:
    """Events a user may send now; ``explain`` only while a step awaits an explanation."""
    names = list(events_in_state(view))
    if "not_met" not in view.outcomes.values():
        names = [n for n in names if n != "explain"]
    return names


def diagram(fmt: str = "mermaid") -> str:
    """The chart drawn from its own definition (mermaid, md or rst: no Graphviz needed)."""
    return format(VacancyChart, fmt)
