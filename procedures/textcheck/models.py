"""Result models of the vacancy-text check (pydantic v2, immutable)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .wordlists import Category

# Dutch names of the exclusionary-phrase categories, for the CLI and the vacancy page.
CATEGORY_LABELS = {
    "leeftijd": "Leeftijd",
    "herkomst_taal": "Herkomst en taal",
    "gender": "Gender",
}

Verdict = Literal[
    "sterk mannelijk gecodeerd",
    "licht mannelijk gecodeerd",
    "neutraal",
    "licht vrouwelijk gecodeerd",
    "sterk vrouwelijk gecodeerd",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finding(_Frozen):
    """One exclusionary phrase; ``start``/``end`` are offsets into the original text."""

    category: Category
    phrase: str
    start: int
    end: int
    suggestion: str
    source: str
    rule: str


class GenderCoding(_Frozen):
    """Counts of masculine- and feminine-coded words and the resulting verdict."""

    masculine_count: int
    feminine_count: int
    masculine_words: tuple[str, ...]
    feminine_words: tuple[str, ...]
    verdict: Verdict


class Readability(_Frozen):
    """Flesch-Douma score, its band label and whether the text is at B1 level or easier."""

    score: float | None
    level: str
    b1_or_easier: bool
    indication: str
    words: int
    sentences: int
    syllables: int


class TextCheckResult(_Frozen):
    """Everything the inclusive vacancy-text check found in one text."""

    findings: tuple[Finding, ...]
    gender_coded: GenderCoding
    readability: Readability
    wordlist_version: str

    @property
    def has_exclusionary(self) -> bool:
        """True if at least one exclusionary phrase was found."""
        return bool(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A compact, deterministic, JSON-serialisable representation (for evidence)."""
        data = self.model_dump(mode="json")
        data["has_exclusionary"] = self.has_exclusionary
        return data
