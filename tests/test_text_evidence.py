"""Approving a vacancy text with the text attached keeps the text check as evidence."""

import pytest
from sqlmodel import Session, select

from models import Tally, Transition
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


def test_flagged_phrases_approved_with_an_explanation_end_explained_with_the_findings_stored(
    send, engine
):
    """Pas toe of leg uit: the deviation is explained, and counts as such."""
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    data = {"text": EXCLUSIONARY, "explanation": "Traineeprogramma; tekst wordt aangepast."}
    result = send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", data)
    assert (result.state, result.outcome) == ("biws", "explained")
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    evidence = row.data["text_check"]
    phrases = {f["phrase"].lower() for f in evidence["result"]["findings"]}
    assert {"jong en dynamisch team", "moedertaal nederlands"} <= phrases
    assert evidence["exclusionary"] == len(evidence["result"]["findings"])
    assert evidence["wordlist_version"].startswith("exclusionary=")


@pytest.mark.parametrize("explanation", [None, "Extra toelichting"])
def test_a_clean_text_is_approved_met_with_its_evidence(send, engine, explanation):
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    data = {"text": CLEAN} | ({"explanation": explanation} if explanation else {})
    result = send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", data)
    assert result.outcome == "met"  # nothing flagged: nothing to explain
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    assert row.data["text_check"]["exclusionary"] == 0
    assert row.data["text"] == CLEAN


@pytest.mark.parametrize("data", [{}, {"explanation": "Tekst komt uit het sjabloon"}])
def test_approval_without_a_text_needs_no_check_and_is_met(send, engine, data):
    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    result = send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", data)
    assert result.outcome == "met"
    with Session(engine) as session:
        row = session.exec(select(Transition).where(Transition.seq == 2)).one()
    assert "text_check" not in row.data


def test_an_explained_text_counts_as_explained_in_the_quarter_not_as_met(send, engine):
    from procedures.tallies import roll_up

    send("VAC-1", "open", "2025-01-06T09:00:00+01:00", OPEN)
    send("VAC-2", "open", "2025-01-06T09:00:00+01:00", OPEN)
    flagged = {"text": EXCLUSIONARY, "explanation": "Traineeprogramma"}
    send("VAC-1", "approve_text", "2025-01-07T09:00:00+01:00", flagged)
    send("VAC-2", "approve_text", "2025-01-07T09:00:00+01:00", {"text": CLEAN})
    with Session(engine) as session:
        roll_up(session)
        session.commit()
        tallies = session.exec(select(Tally).where(Tally.indicator == "I2")).all()
    assert {(t.quarter, t.outcome, t.count) for t in tallies} == {
        ("2025Q1", "explained", 1),
        ("2025Q1", "met", 1),
    }
