"""Readability: the Flesch-Douma score with a Dutch syllable counter, and the B1 check.

Flesch-Douma (Douma 1960, the Dutch adaptation of Flesch's reading ease)::

    206.835 - 0.93 * (words / sentences) - 77 * (syllables / words)

Score bands and the B1 threshold are data, see ``wordlists/readability.json``: the bands
are Douma's own table (0-30 "zeer moeilijk" ... 90-100 "zeer makkelijk"); a score of 60
or more ("normaal" and easier) is taken as roughly B1, which is an idflow convention and
not an official CEFR mapping.

Counting rules:

* syllables: one per group of consecutive vowels (a, e, i, o, u, y and accented forms),
  so Dutch diphthongs and long vowels (ij, ei, ou, au, ui, oe, ie, eu, aa, ee, oo, uu)
  count once; a vowel with a diaeresis (ë, ï, ...) starts a new group, so "creëren" has
  three syllables (cre-ë-ren). Every word has at least one syllable.
* words: runs of letters, with inner hyphens and apostrophes ("ICT-architect",
  "collega's") kept as one word; numbers are not words. Line-break hyphens are joined first.
* sentences: text is split at line breaks (headings and bullet points count as sentences)
  and at ``. ! ?`` followed by whitespace and a capital letter or digit.
"""

from __future__ import annotations

import re

from .models import Readability
from .wordlists import readability_bands

VOWELS = frozenset("aeiouyáéíóúàèìòùâêîôûý")
DIAERESIS_VOWELS = frozenset("äëïöüÿ")
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'‘“(]*[A-Z0-9À-Ý])")
LINE_BREAK_HYPHEN = re.compile(r"(?<=[^\W\d_])(?:\u00ad|-[ \t]*\n[ \t]*)(?=[^\W\d_])")


def count_syllables(word: str) -> int:
    """Dutch syllable estimate: vowel groups, split at a diaeresis; at least 1."""
    groups = 0
    previous_vowel = False
    for char in word.lower():
        is_vowel = char in VOWELS or char in DIAERESIS_VOWELS
        if is_vowel and (not previous_vowel or char in DIAERESIS_VOWELS):
            groups += 1
        previous_vowel = is_vowel
    return max(groups, 1)


def split_sentences(text: str) -> list[str]:
    """Sentences (units containing at least one word), see the module docstring."""
    units = [part for line in text.splitlines() for part in SENTENCE_SPLIT.split(line)]
    return [unit for unit in units if WORD.search(unit)]


def band_label(score: float) -> str:
    """Douma's label for a score (bands are listed from easiest to hardest)."""
    for band in readability_bands().bands:
        if band.min_score is None or score >= band.min_score:
            return band.label
    return readability_bands().bands[-1].label


def measure_readability(text: str) -> Readability:
    """Flesch-Douma score, band label and B1 indication for ``text``."""
    joined = LINE_BREAK_HYPHEN.sub("", text)
    words = WORD.findall(joined)
    sentences = len(split_sentences(joined))
    syllables = sum(count_syllables(word) for word in words)
    if not words:
        return Readability(
            score=None,
            level="onbekend",
            b1_or_easier=False,
            indication="Geen tekst om te beoordelen.",
            words=0,
            sentences=0,
            syllables=0,
        )
    score = round(206.835 - 0.93 * (len(words) / sentences) - 77 * (syllables / len(words)), 2)
    return Readability(
        score=score,
        level=band_label(score),
        b1_or_easier=score >= readability_bands().b1.min_score,
        indication=_indication(score),
        words=len(words),
        sentences=sentences,
        syllables=syllables,
    )


def _dutch_number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _indication(score: float) -> str:
    threshold = readability_bands().b1.min_score
    measured = f"Flesch-Douma {_dutch_number(score)}, grens {threshold:g}"
    if score >= threshold:
        return f"Op of onder taalniveau B1 ({measured})."
    return f"Moeilijker dan taalniveau B1 ({measured}); maak zinnen korter en kies kortere woorden."
