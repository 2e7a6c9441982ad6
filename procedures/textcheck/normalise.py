"""Dutch-aware text normalisation with a map back to the original character offsets.

Matching happens on a normalised copy of the text: case-folded, diacritics removed
("creëren" -> "creeren"), ligatures expanded ("ĳ" -> "ij"), soft hyphens dropped and all
hyphen-like dashes unified to "-". Every character of the normalised copy remembers the
offset of the original character it came from, so a match found in the normalised copy can
be reported with ``start``/``end`` offsets into the text the recruiter actually wrote.

Hyphenation ("jong-en-dynamisch", line-break hyphens as in "sa-\\nmenwerken") is not
removed here; the pattern compiler in :mod:`procedures.textcheck.patterns` tolerates it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

SOFT_HYPHEN = "\u00ad"
# Hyphen, non-breaking hyphen, figure dash, en dash, minus sign: all treated as "-".
HYPHEN_LIKE = frozenset("\u2010\u2011\u2012\u2013\u2212")
# Typographic apostrophes are unified so "collega’s" and "collega's" match alike.
APOSTROPHE_LIKE = frozenset("\u2018\u2019\u02bc")


@dataclass(frozen=True)
class NormalisedText:
    """A normalised copy of ``original`` plus, per normalised char, its original offset."""

    original: str
    text: str
    offsets: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalised text to a span of the original text."""
        if end <= start:
            raise ValueError("an empty span cannot be mapped")
        return self.offsets[start], self.offsets[end - 1] + 1


def fold_char(char: str) -> str:
    """Fold one character for matching: case-fold, strip diacritics, unify dashes."""
    if char == SOFT_HYPHEN:
        return ""
    if char in HYPHEN_LIKE:
        return "-"
    if char in APOSTROPHE_LIKE:
        return "'"
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise(text: str) -> NormalisedText:
    """Normalise ``text`` for matching and keep the offset map to the original."""
    chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        chars.append(folded)
        offsets.extend([index] * len(folded))
    return NormalisedText(original=text, text="".join(chars), offsets=tuple(offsets))


def fold(text: str) -> str:
    """Normalise a string (e.g. a word-list pattern) without keeping offsets."""
    return "".join(fold_char(char) for char in text)
