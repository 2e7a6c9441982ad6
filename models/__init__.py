"""What is stored: SQLModel tables, the database engine and the settings that locate it."""

from models.database import get_engine, make_engine, session_scope
from models.settings import Settings, get_settings
from models.tables import (
    Cluster,
    Directorate,
    ExitReason,
    Outbox,
    PolicyVersion,
    Procedure,
    QuarterReopening,
    QuarterSnapshot,
    RollupPosition,
    Tally,
    Transition,
    YearReport,
)

__all__ = [
    "Cluster",
    "Directorate",
    "ExitReason",
    "Outbox",
    "PolicyVersion",
    "Procedure",
    "QuarterReopening",
    "QuarterSnapshot",
    "RollupPosition",
    "Settings",
    "Tally",
    "Transition",
    "YearReport",
    "get_settings",
    "get_engine",
    "make_engine",
    "session_scope",
]
