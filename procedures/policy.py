"""The policy: versioned data that the chart and the reports apply.

A procedure keeps the version in force when it was opened; a new version applies to new
procedures only.
"""

import json
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Codes are stored in 32-character columns (exit reasons) and shown in forms.
PolicyCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
ChecklistItem = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
OVERDUE_STATES = ("text", "biws", "shortlist", "selection", "onboarding", "exit_interview")


class Policy(BaseModel):
    """One version of the policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    description: str = ""
    min_scale: int = Field(ge=1)
    rooney_share: Fraction
    rooney_max_rounds: int = Field(ge=1)
    biws_checklist: tuple[ChecklistItem, ...] = Field(min_length=1)
    destinations: tuple[PolicyCode, ...] = Field(min_length=1)
    exit_reasons: tuple[PolicyCode, ...] = Field(min_length=1)
    overdue_days: dict[str, Annotated[int, Field(ge=1)]]
    suppression_threshold: int = Field(ge=1)
    # Approving a text in which the text check found exclusionary phrases needs an explanation.
    text_check_requires_explanation: bool = True
    # The close deployment fixes a quarter's report this many days after the quarter ended.
    # Versions stored before the field existed read as the default.
    close_after_days: int = Field(default=14, ge=0, le=366)

    @field_validator("rooney_share", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Fraction:
        share = Fraction(str(value))
        if not 0 < share <= 1:
            raise ValueError("rooney_share moet tussen 0 en 1 liggen")
        return share

    @field_validator("overdue_days")
    @classmethod
    def _overdue(cls, value: dict[str, int]) -> dict[str, int]:
        missing = [s for s in OVERDUE_STATES if s not in value]
        if missing:
            raise ValueError(f"overdue_days mist: {', '.join(missing)}")
        unknown = [s for s in value if s not in OVERDUE_STATES]
        if unknown:
            raise ValueError(
                f"overdue_days kent geen toestand {', '.join(unknown)}; "
                f"termijnen gelden voor: {', '.join(OVERDUE_STATES)}"
            )
        return value

    def rooney_met(self, invited: int, diverse: int) -> bool:
        """True when the diverse share of those invited reaches the policy share."""
        return Fraction(diverse, invited) >= self.rooney_share

    def due_at(self, state: str, since: datetime, anchor: date | None = None) -> datetime | None:
        """When a stay in ``state`` that began at ``since`` becomes overdue (None: never).

        Onboarding and exit interview count from the hire's start date and leave date
        (``anchor``, a local date), the other states from the moment they were entered.
        """
        days = self.overdue_days.get(state)
        if days is None:
            return None
        start = since
        if anchor is not None:
            start = datetime.combine(anchor, time.min, tzinfo=AMSTERDAM)
        return start + timedelta(days=days)

    def to_json(self) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        body["rooney_share"] = str(self.rooney_share)
        return body


def default_policy() -> Policy:
    """The policy shipped with idflow (``procedures/policies/v1.json``)."""
    text = resources.files("procedures").joinpath("policies/v1.json").read_text("utf-8")
    return Policy.model_validate(json.loads(text))
