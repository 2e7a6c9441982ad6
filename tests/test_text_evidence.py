"""Approving a vacancy text with the text attached keeps the text check as evidence."""

import pytest
from sqlmodel import Session, select

from models import Transition
from procedures.errors import RuleViolation

OPEN = {"directorate": "SOC-OJZ", "scale": 12, "title": "Teamleider", "kind": "external"}
EXCLUSIONARY = "Voor ons jong en dynamisch team zoeken wij een collega met moedertaal Nederlands."
CLEAN = "Voor ons team zoeken wij een collega die goed samenwerkt en helder schrijft."


def test_approving_a_text_with_exclusionary_phrases_without_explanation_is_refused(send, engine):
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    with pytest.raises(RuleViolation, match="jong en dynamisch team.*toelichting"):
        send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", {"text": EXCLUSIONARY})
    with Session(engine) as session:
        assert len(session.exec(select(Transition)).all()) == 1


def test_an_explanation_lets_the_text_through_and_the_findings_are_stored(send, engine):
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    data = {"text": EXCLUSIONARY, "explanation": "Traineeprogramma; tekst wordt aangepast."}
    result = send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", data)
    assert (result.state, result.outcome) == ("biws", "met")
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    evidence = row.data["text_check"]
    phrases = {f["phrase"].lower() for f in evidence["result"]["findings"]}
    assert {"jong en dynamisch team", "moedertaal nederlands"} <= phrases
    assert evidence["exclusionary"] == len(evidence["result"]["findings"])
    assert evidence["wordlist_version"].startswith("exclusionary=")


def test_a_clean_text_is_approved_without_explanation_with_its_evidence(send, engine):
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", {"text": CLEAN})
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    assert row.data["text_check"]["exclusionary"] == 0
    assert row.data["text"] == CLEAN


def test_approval_without_a_text_needs_no_check(send, engine):
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    result = send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00")
    assert result.outcome == "met"
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    assert "text_check" not in row.data
