"""What the templates show, assembled from the read models (no rules decided here)."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from models import session_scope
from procedures.calendar import last_finished_quarter, quarter_of, recent_quarters
from procedures.chart import EVENT_LABELS, STATE_LABELS, STEP_LABELS, STEPS
from procedures.corrections import differences
from procedures.events import DATA_SCHEMAS
from procedures.quarters import quarter_overview
from procedures.queries import alert_rows, find_procedures
from procedures.report import (
    INDICATOR_LABELS,
    INDICATORS,
    INTERNAL,
    MUNICIPALITY,
    NORM_PCT,
    STATUS_LABELS,
    Cell,
    row_cells,
    total_cells,
)
from procedures.report import OUTCOME_LABELS as REPORT_OUTCOME_LABELS
from procedures.report_builder import Sources, quarters_figures
from procedures.store import current_policy_version, load_policy
from procedures.tallies import roll_up
from procedures.textcheck import CATEGORY_LABELS, check_text
from web.chart_view import chart_steps
from web.forms import (
    CHOICE_LABELS,
    FIELD_LABELS,
    FormField,
    data_from_form,
    fields_for,
)

# The report's words, spelled out a little more for the one vacancy page.
OUTCOME_LABELS = {
    "met": REPORT_OUTCOME_LABELS["met"],
    "explained": "afwijking toegelicht",
    "released": f"{REPORT_OUTCOME_LABELS['released']} (na de laatste ronde)",
    "not_met": f"{REPORT_OUTCOME_LABELS['not_met']}, toelichting nodig",
    None: "nog open",
}
# An entry recorded this long after its business time is marked as entered later.
BACKDATED = timedelta(days=1)
# The dashboard lists at most this many corrections; the reports have all of them.
MAX_CORRECTIONS = 50
# Stored codes in the history that read as their label (kind: intern/extern; step names).
_CODED_FIELDS = frozenset({"kind", "step"})


def text_check_view(text: str) -> dict[str, Any]:
    """The inclusive text check of ``text`` as the vacancy page shows it."""
    result = check_text(text)
    findings = [
        {"category": CATEGORY_LABELS[f.category], "phrase": f.phrase,
         "line": text.count("\n", 0, f.start) + 1, "suggestion": f.suggestion}
        for f in result.findings
    ]  # fmt: skip
    reading = result.readability
    score = "-" if reading.score is None else f"{reading.score:.1f}".replace(".", ",")
    return {
        "findings": findings,
        "gender": result.gender_coded,
        "readability": reading,
        "score": score,
        "version": result.wordlist_version,
    }


def _outcomes_by_step(detail: dict[str, Any]) -> dict[str, str | None]:
    return {step: detail["outcomes"][indicator] for step, indicator in STEPS.items()}


def vacancy_context(session: Session, detail: dict[str, Any]) -> dict[str, Any]:
    """The vacancy page: diagram, outcomes, history and one form per allowed event."""
    policy = load_policy(session, detail["policy_version"])
    outcomes = _outcomes_by_step(detail)
    visited = {row["source"] for row in detail["history"]} | {"new"}
    forms = [
        {"event": e, "label": EVENT_LABELS[e], "fields": fields_for(e, policy, outcomes)}
        for e in detail["allowed_events"]
    ]
    indicators = [
        {"code": STEPS[step], "label": STEP_LABELS[step], "outcome": outcome,
         "outcome_label": OUTCOME_LABELS[outcome]}
        for step, outcome in outcomes.items()
    ]  # fmt: skip
    return {
        "detail": detail,
        "steps": chart_steps(detail["state"], visited),
        "indicators": indicators,
        "history": [_history_row(row) for row in detail["history"]],
        "forms": forms,
        "event_id": f"web-{uuid.uuid4()}",
    }


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row["data"])
    explanation = data.pop("explanation", None)
    late = datetime.fromisoformat(row["recorded_at"]) - datetime.fromisoformat(row["at"])
    return row | {
        "backdated": late > BACKDATED,
        "event_label": EVENT_LABELS.get(row["event"], row["event"]),
        "target_label": STATE_LABELS.get(row["target"], row["target"]),
        "outcome_label": _history_outcome(row),
        "explanation": explanation,
        "details": ", ".join(f"{FIELD_LABELS.get(k, k)}: {_show(k, v)}" for k, v in data.items()),
    }


def _history_outcome(row: dict[str, Any]) -> str:
    if row["outcome"]:
        return OUTCOME_LABELS.get(row["outcome"], row["outcome"])
    if row["event"] == "submit_shortlist":
        return f"Rooney-norm niet gehaald: ronde {row['round']} begint"
    return ""


def _show(name: str, value: Any) -> str:
    if name in _CODED_FIELDS and isinstance(value, str):
        return CHOICE_LABELS.get(value, value)
    if isinstance(value, dict):
        return f"{sum(1 for v in value.values() if v)} van {len(value)} aangevinkt"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "geen"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return str(value)


def event_data(session: Session, detail: dict[str, Any], event: str, form: Any) -> dict[str, Any]:
    """The data of a submitted event form (unknown events go to the engine, which refuses)."""
    if event not in DATA_SCHEMAS or event == "open":
        return {}
    policy = load_policy(session, detail["policy_version"])
    return data_from_form(fields_for(event, policy, _outcomes_by_step(detail)), form)


def open_fields(session: Session, directorates: list[dict[str, str]]) -> list[FormField]:
    """The open form: the schema's fields, with the directorates the user may open in."""
    policy = load_policy(session, current_policy_version(session))
    fields = fields_for("open", policy, {})
    for spec in fields:
        if spec.name == "directorate":
            spec.widget = "select"
            spec.choices = [(d["code"], f"{d['code']} – {d['name']}") for d in directorates]
        if spec.name == "scale":
            spec.note = f"Vanaf schaal {policy.min_scale}."
    return fields


def roll_up_now(engine: Engine) -> None:
    """Bring the tallies up to date with the log (incremental, cheap) in a short transaction
    of its own, committed before the page reads: on PostgreSQL the roll-up locks the
    transition table against writers, which must last the roll-up only, not the page."""
    with session_scope(engine) as session:
        roll_up(session)


def dashboard_context(session: Session, now: datetime) -> dict[str, Any]:
    """Indicators of the current quarter against the norm, the trend (closed quarters as they
    were fixed), each quarter's status, the corrections, and what needs attention.

    The caller rolls the tallies up first, in a transaction of its own (see ``roll_up_now``).
    """
    current = quarter_of(now)
    quarters = recent_quarters(current, 5)
    sources = Sources.load(session)
    figures = quarters_figures(session, quarters, sources)
    totals = {q: total_cells(figures[q].internal) for q in quarters}
    org = sources.organisation
    places = sorted(org.clusters.items()) + [(MUNICIPALITY, "Gemeente totaal")]
    rows = row_cells(figures[current].internal)
    directorates = org.ordered({d for d, _ in rows})
    return {
        "quarter": current,
        "quarters": quarters,
        "downloads": [current, last_finished_quarter(now)],
        "closed": set(sources.closed),
        "internal": INTERNAL,
        "norm": NORM_PCT,
        "indicators": [(i, INDICATOR_LABELS[i]) for i in INDICATORS],
        "cluster_rows": [_row(name, totals[current], code) for code, name in places],
        "directorate_rows": [
            _row(f"{code} – {org.directorate_name(code)}", rows, code) for code in directorates
        ],
        "trend": [_trend(name, totals, quarters, code) for code, name in places],
        "quarter_status": quarter_overview(session)[:8],
        "corrections": correction_view(session, sources),
        "awaiting": find_procedures(session, awaiting_explanation=True, limit=25),
        "overdue": find_procedures(session, overdue_at=now, limit=25),
        "alerts": alert_rows(session, limit=25),
        "status_labels": STATUS_LABELS,
        "state_labels": STATE_LABELS,
    }


def correction_view(session: Session, sources: Sources) -> list[dict[str, Any]]:
    """Per closed quarter, directorate and indicator: the figures now minus the fixed ones."""
    org = sources.organisation
    return [
        {"quarter": quarter, "directorate": f"{d} – {org.directorate_name(d)}",
         "indicator": f"{i} {INDICATOR_LABELS[i]}", "cell": cell}
        for quarter, cells in sorted(differences(session, sources.closed).items(), reverse=True)
        for (d, i), cell in sorted(cells.items())
    ][:MAX_CORRECTIONS]  # fmt: skip


def _row(name: str, cells: dict[Any, Cell], code: str) -> dict[str, Any]:
    return {"name": name, "cells": [cells.get((code, i), Cell()) for i in INDICATORS]}


def _trend(
    name: str, totals: dict[str, dict[Any, Cell]], quarters: list[str], code: str
) -> dict[str, Any]:
    row = []
    for quarter in quarters:
        total = Cell()
        for indicator in INDICATORS:
            total.add(totals[quarter].get((code, indicator), Cell()))
        row.append(total)
    return {"name": name, "cells": row}
