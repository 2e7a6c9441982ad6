"""Making a database ready: schema, the default policy, the sample organisation."""

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from migrations import hold_setup_lock, upgrade_to_head
from models import PolicyVersion
from procedures.errors import InvalidInput, RuleViolation
from procedures.fields import dutch_errors
from procedures.organisation import (
    load_organisation,
    organisation_loaded,
    parse_org_csv,
    sample_csv,
)
from procedures.policy import Policy, default_policy


def initialise(engine: Engine, session: Session) -> list[str]:
    """Upgrade the schema to the newest migration, add the default policy and the sample
    organisation if none is there; return what was done, in Dutch."""
    upgrade_to_head(engine)
    done = ["databaseschema bijgewerkt"]
    # Two `idflow init` at once: the second waits here and then finds policy and organisation.
    hold_setup_lock(session.connection())
    if session.exec(select(PolicyVersion).limit(1)).first() is None:
        add_policy(session, default_policy())
        done.append("standaardbeleid (versie 1) geladen")
    if not organisation_loaded(session):
        result = load_organisation(session, parse_org_csv(sample_csv()))
        done.append(
            f"voorbeeldorganisatie geladen ({result.clusters} clusters, "
            f"{result.directorates} directies)"
        )
    return done


def parse_policy(body: Any) -> Policy:
    """A policy version from its JSON shape (``idflow policy show``), or a Dutch refusal."""
    if not isinstance(body, dict):
        raise InvalidInput(
            "Een beleidsversie is een JSON-object, zoals 'idflow policy show' toont."
        )
    try:
        return Policy.model_validate(body)
    except ValidationError as error:
        raise InvalidInput(dutch_errors(error, "beleidsversie")) from None


def policy_json(session: Session, version: int | None = None) -> dict[str, Any]:
    """A stored policy version (default: the newest) in the shape ``parse_policy`` reads."""
    newest = session.exec(select(func.max(PolicyVersion.version))).one()
    number = newest if version is None else version
    row = session.get(PolicyVersion, number) if number else None
    if row is None:
        known = ", ".join(map(str, sorted(session.exec(select(PolicyVersion.version)))))
        raise InvalidInput(f"Beleidsversie {version} bestaat niet; versies: {known or 'geen'}.")
    return parse_policy(row.body).to_json()


def add_policy(session: Session, policy: Policy) -> None:
    """Store a new policy version, numbered above every earlier one; versions never change."""
    if session.get(PolicyVersion, policy.version) is not None:
        raise RuleViolation(
            f"Beleidsversie {policy.version} bestaat al; een versie verandert nooit. "
            "Geef het nieuwe beleid een hoger versienummer."
        )
    newest = session.exec(select(func.max(PolicyVersion.version))).one() or 0
    if policy.version < newest:
        raise RuleViolation(
            f"Beleidsversie {policy.version} is lager dan de huidige versie {newest}; een nieuw "
            f"beleid krijgt een hoger nummer (bijv. {newest + 1})."
        )
    session.add(
        PolicyVersion(version=policy.version, created_at=datetime.now(UTC), body=policy.to_json())
    )
    session.flush()
