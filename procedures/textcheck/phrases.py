"""Detection of exclusionary phrases (age, origin/language, gender)."""

from __future__ import annotations

from .matching import entry_spans, select_non_overlapping
from .models import Finding
from .normalise import NormalisedText
from .wordlists import ExclusionaryEntry, exclusionary_list


def find_exclusionary(norm: NormalisedText) -> tuple[Finding, ...]:
    """All exclusionary phrases in the text, ordered by position, without overlaps."""
    candidates = [
        (span, order, entry)
        for order, entry in enumerate(exclusionary_list().entries)
        for span in entry_spans(entry, norm.text)
    ]
    return tuple(_finding(norm, span, entry) for span, entry in select_non_overlapping(candidates))


def _finding(norm: NormalisedText, span: tuple[int, int], entry: ExclusionaryEntry) -> Finding:
    start, end = norm.original_span(*span)
    return Finding(
        category=entry.category,
        phrase=norm.original[start:end],
        start=start,
        end=end,
        suggestion=entry.suggestion,
        source=entry.source,
        rule=entry.id,
    )
