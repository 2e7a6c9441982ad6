"""Event forms derived from the event data schemas and the procedure's policy.

Each field of ``procedures.events.DATA_SCHEMAS`` becomes a widget by its type; code lists
(BIWS checklist, destinations, exit reasons) come from the policy the procedure runs under.
"""

import types
import typing
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import FormData

from procedures.chart import STEP_LABELS
from procedures.events import DATA_SCHEMAS
from procedures.fields import LIMITS
from procedures.policy import Policy

FIELD_LABELS = {
    "directorate": "Directie",
    "scale": "Salarisschaal",
    "title": "Functietitel",
    "kind": "Werving",
    "explanation": "Toelichting (pas toe of leg uit)",
    "checklist": "BIWS-checklist",
    "invited": "Aantal uitgenodigde kandidaten",
    "diverse": "Waarvan met een niet-Europese migratieachtergrond",
    "employee": "Personeelsnummer (pseudoniem)",
    "start_date": "Startdatum",
    "reason": "Reden",
    "leave_date": "Vertrekdatum",
    "destination": "Bestemming",
    "held": "Exitgesprek gehouden?",
    "reasons": "Vertrekredenen",
    "step": "Stap",
    "text": "Vacaturetekst",
}
NOTES = {
    "diverse": (
        "Dit aantal wordt alleen gebruikt om de Rooney Rule te toetsen en wordt niet opgeslagen."
    ),
    "explanation": (
        "Met een toelichting telt de afwijking als 'toegelicht'; zonder toelichting als "
        "'niet voldaan' en krijgt P&O een melding."
    ),
    "employee": "Geen naam: alleen het pseudonieme personeelsnummer.",
    "held": "Nee = aangeboden maar door de medewerker afgeslagen.",
    "text": (
        "Plak de tekst en kies 'Tekst controleren' voor de inclusieve tekstcheck. Keurt u goed "
        "met de tekst erbij, dan wordt de uitkomst van de check bij deze stap bewaard. Keurt u "
        "uitsluitende formuleringen goed met een toelichting, dan telt de stap als 'toegelicht'."
    ),
}
_CODE_LISTS = {
    "checklist": "biws_checklist",
    "destination": "destinations",
    "reasons": "exit_reasons",
}
_TEXTAREAS = frozenset({"explanation", "reason", "text"})
CHOICE_LABELS = STEP_LABELS | {"internal": "intern", "external": "extern"}


@dataclass
class FormField:
    """One input of an event form."""

    name: str
    label: str
    widget: str  # text, textarea, number, date, select, checkboxes, yesno
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None
    maxlength: int | None = None  # the field's documented limit, for the browser too


def fields_for(event: str, policy: Policy, outcomes: dict[str, str | None]) -> list[FormField]:
    """The inputs an event needs, in schema order."""
    schema = DATA_SCHEMAS[event]
    fields = []
    for name, info in schema.model_fields.items():
        widget, choices = _widget(name, info.annotation, policy, outcomes)
        required = info.is_required() and widget != "checkboxes"
        label = FIELD_LABELS.get(name, name)
        note, limit = NOTES.get(name), LIMITS.get(name)
        fields.append(FormField(name, label, widget, required, choices, note, limit))
    return fields


def _widget(
    name: str, annotation: Any, policy: Policy, outcomes: dict[str, str | None]
) -> tuple[str, list[tuple[str, str]]]:
    kind = _base_type(annotation)
    codes = [(c, c) for c in getattr(policy, _CODE_LISTS[name])] if name in _CODE_LISTS else []
    if kind is dict or kind is list:
        return "checkboxes", codes
    if typing.get_origin(kind) is typing.Literal:
        # Only steps that await an explanation can be explained (the chart checks it too).
        values = typing.get_args(kind)
        if name == "step":
            values = tuple(s for s in values if outcomes.get(s) == "not_met")
        return "select", [(v, CHOICE_LABELS.get(v, v)) for v in values]
    if kind is bool:
        return "yesno", [("true", "ja"), ("false", "nee")]
    if kind is int:
        return "number", []
    if kind is date:
        return "date", []
    if codes:
        return "select", [("", "(geen)")] + codes
    return ("textarea" if name in _TEXTAREAS else "text"), []


def _base_type(annotation: Any) -> Any:
    """The type under Annotated and Optional."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else annotation
    if typing.get_origin(annotation) is typing.Literal:
        return annotation
    return typing.get_origin(annotation) or annotation


def data_from_form(fields: list[FormField], form: FormData) -> dict[str, Any]:
    """The event's data from submitted form values; empty optional inputs are left out."""
    data: dict[str, Any] = {}
    for spec in fields:
        if spec.widget == "checkboxes" and spec.name == "checklist":
            ticked = set(form.getlist(spec.name))
            data[spec.name] = {code: code in ticked for code, _ in spec.choices}
        elif spec.widget == "checkboxes":
            data[spec.name] = [str(v) for v in form.getlist(spec.name)]
        else:
            value = str(form.get(spec.name) or "").strip()
            if value or spec.required:
                data[spec.name] = _typed(spec.widget, value)
    return data


def _typed(widget: str, value: str) -> Any:
    if widget == "number" and value.lstrip("-").isdigit():
        return int(value)
    if widget == "yesno" and value in ("true", "false"):
        return value == "true"
    # Anything else goes to the schema as typed, which refuses it with a Dutch message.
    return value if value or widget != "yesno" else None
