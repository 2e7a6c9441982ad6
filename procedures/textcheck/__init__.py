"""Inclusive vacancy-text check (performance agreement 2: scale 12 and up).

``check_text`` flags exclusionary phrases (age, origin/language, gender), measures
gender-coded wording and the Flesch-Douma readability against language level B1. The
word lists are versioned JSON data in ``wordlists/``; ``WORDLIST_VERSION`` names them.
"""

from __future__ import annotations

from .gender import gender_coding
from .models import CATEGORY_LABELS, Finding, GenderCoding, Readability, TextCheckResult
from .normalise import normalise
from .phrases import find_exclusionary
from .readability import measure_readability
from .wordlists import wordlist_version

WORDLIST_VERSION: str = wordlist_version()

__all__ = [
    "CATEGORY_LABELS",
    "WORDLIST_VERSION",
    "Finding",
    "GenderCoding",
    "Readability",
    "TextCheckResult",
    "check_text",
]


def check_text(text: str) -> TextCheckResult:
    """Run all checks on a vacancy text; offsets in the result refer to ``text``."""
    norm = normalise(text)
    return TextCheckResult(
        findings=find_exclusionary(norm),
        gender_coded=gender_coding(norm),
        readability=measure_readability(text),
        wordlist_version=WORDLIST_VERSION,
    )
