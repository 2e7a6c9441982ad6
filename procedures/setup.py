"""Making a database ready: schema, the default policy, the sample organisation."""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from migrations import hold_setup_lock, upgrade_to_head
from models import PolicyVersion
from procedures.errors import RuleViolation
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


def add_policy(session: Session, policy: Policy) -> None:
    """Store a new policy version; existing versions never change."""
    if session.get(PolicyVersion, policy.version) is not None:
        raise RuleViolation(
            f"Beleidsversie {policy.version} bestaat al; een versie verandert nooit. "
            "Geef het nieuwe beleid een hoger versienummer."
        )
    session.add(
        PolicyVersion(version=policy.version, created_at=datetime.now(UTC), body=policy.to_json())
    )
    session.flush()
