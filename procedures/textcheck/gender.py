"""Gender-coded wording in the manner of Gaucher, Friesen & Kay (2011).

Verdict rule (documented, deterministic). Let ``m`` and ``f`` be the number of
masculine- and feminine-coded word occurrences, ``diff = m - f`` and ``share`` the
dominant side's share of all coded words, ``max(m, f) / (m + f)``:

* ``diff == 0`` (including a text without coded words): "neutraal";
* ``|diff| >= STRONG_MIN_DIFFERENCE`` (4) **and** ``share >= STRONG_MIN_SHARE`` (2/3):
  "sterk mannelijk gecodeerd" / "sterk vrouwelijk gecodeerd";
* otherwise: "licht mannelijk gecodeerd" / "licht vrouwelijk gecodeerd".

The difference threshold follows the widely used gender-decoder operationalisation of
Gaucher et al. (a difference of more than 3 is "strongly" coded); the share condition
keeps a long text with many coded words on both sides from being labelled "sterk" on
the absolute difference alone.
"""

from __future__ import annotations

import re
from typing import Literal

from .matching import entry_spans, select_non_overlapping
from .models import GenderCoding, Verdict
from .normalise import NormalisedText
from .wordlists import PatternEntry, gender_coded_list

STRONG_MIN_DIFFERENCE = 4
STRONG_MIN_SHARE = 2 / 3
Side = Literal["masculine", "feminine"]
_LINE_BREAK_HYPHEN = re.compile(r"[\u00ad]|-[ \t]*\n\s*")


def verdict_for(masculine: int, feminine: int) -> Verdict:
    """Apply the verdict rule from the module docstring to two counts."""
    diff = masculine - feminine
    if diff == 0:
        return "neutraal"
    share = max(masculine, feminine) / (masculine + feminine)
    strong = abs(diff) >= STRONG_MIN_DIFFERENCE and share >= STRONG_MIN_SHARE
    if diff > 0:
        return "sterk mannelijk gecodeerd" if strong else "licht mannelijk gecodeerd"
    return "sterk vrouwelijk gecodeerd" if strong else "licht vrouwelijk gecodeerd"


def gender_coding(norm: NormalisedText) -> GenderCoding:
    """Count masculine- and feminine-coded words (by stem) and give the verdict."""
    lists = gender_coded_list()
    sides: tuple[tuple[Side, tuple[PatternEntry, ...]], ...] = (
        ("masculine", lists.masculine),
        ("feminine", lists.feminine),
    )
    candidates = [
        (span, order, side)
        for side, entries in sides
        for order, entry in enumerate(entries)
        for span in entry_spans(entry, norm.text)
    ]
    words: dict[Side, list[str]] = {"masculine": [], "feminine": []}
    for span, side in select_non_overlapping(candidates):
        start, end = norm.original_span(*span)
        words[side].append(_LINE_BREAK_HYPHEN.sub("", norm.original[start:end]))
    masculine, feminine = words["masculine"], words["feminine"]
    return GenderCoding(
        masculine_count=len(masculine),
        feminine_count=len(feminine),
        masculine_words=tuple(masculine),
        feminine_words=tuple(feminine),
        verdict=verdict_for(len(masculine), len(feminine)),
    )
