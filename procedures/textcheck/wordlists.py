"""Loading and validating the versioned word lists in ``wordlists/*.json``.

The lists are data, not code: HR can update them (and bump ``version``) without touching
the matching logic. Every entry must name its ``source``; loading fails loudly otherwise.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .patterns import compile_pattern

Category = Literal["leeftijd", "herkomst_taal", "gender"]
PACKAGE = "procedures.textcheck"
WORDLIST_DIR = "wordlists"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PatternEntry(_Frozen):
    """Shared shape: patterns to match, exceptions that cancel an overlapping match."""

    id: str = Field(min_length=1)
    patterns: tuple[str, ...] = Field(min_length=1)
    except_: tuple[str, ...] = Field(default=(), alias="except")
    source: str = Field(min_length=3)

    @field_validator("patterns", "except_")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            compile_pattern(pattern)
        return value


class ExclusionaryEntry(PatternEntry):
    category: Category
    suggestion: str = Field(min_length=3)


class ExclusionaryList(_Frozen):
    version: str = Field(min_length=1)
    description: str = ""
    entries: tuple[ExclusionaryEntry, ...] = Field(min_length=1)


class GenderCodedList(_Frozen):
    version: str = Field(min_length=1)
    description: str = ""
    masculine: tuple[PatternEntry, ...] = Field(min_length=1)
    feminine: tuple[PatternEntry, ...] = Field(min_length=1)


class ReadabilityBand(_Frozen):
    min_score: float | None
    label: str
    source: str = Field(min_length=3)


class B1Threshold(_Frozen):
    min_score: float
    source: str = Field(min_length=3)


class ReadabilityBands(_Frozen):
    version: str = Field(min_length=1)
    description: str = ""
    bands: tuple[ReadabilityBand, ...] = Field(min_length=1)
    b1: B1Threshold


def _read_json(name: str) -> object:
    resource = resources.files(PACKAGE).joinpath(WORDLIST_DIR, name)
    return json.loads(resource.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def exclusionary_list() -> ExclusionaryList:
    """The exclusionary-phrase list (``exclusionary.json``)."""
    return ExclusionaryList.model_validate(_read_json("exclusionary.json"))


@lru_cache(maxsize=1)
def gender_coded_list() -> GenderCodedList:
    """The gender-coded stem list (``gender_coded.json``)."""
    return GenderCodedList.model_validate(_read_json("gender_coded.json"))


@lru_cache(maxsize=1)
def readability_bands() -> ReadabilityBands:
    """The Flesch-Douma score bands and the B1 threshold (``readability.json``)."""
    return ReadabilityBands.model_validate(_read_json("readability.json"))


def wordlist_version() -> str:
    """One string naming the version of every list, e.g. ``exclusionary=2026.1;...``."""
    return ";".join(
        [
            f"exclusionary={exclusionary_list().version}",
            f"gender_coded={gender_coded_list().version}",
            f"readability={readability_bands().version}",
        ]
    )
