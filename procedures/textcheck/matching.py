"""Matching word-list entries against a normalised text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .patterns import find_spans, overlaps
from .wordlists import PatternEntry

Span = tuple[int, int]
T = TypeVar("T")


def entry_spans(entry: PatternEntry, folded_text: str) -> list[Span]:
    """Spans matched by an entry's patterns, minus those overlapping one of its exceptions."""
    excluded = sorted(set(find_spans(entry.except_, folded_text)))
    spans = sorted(set(find_spans(entry.patterns, folded_text)))
    return [span for span in spans if not overlaps(span, excluded)]


def select_non_overlapping(candidates: Iterable[tuple[Span, int, T]]) -> list[tuple[Span, T]]:
    """Resolve overlapping matches: earliest start wins, then the longest, then list order.

    ``candidates`` are ``(span, order, payload)`` triples; ``order`` is the position of the
    entry in its word list and only breaks ties, which keeps the outcome deterministic.
    """
    ranked = sorted(candidates, key=lambda c: (c[0][0], -(c[0][1] - c[0][0]), c[1]))
    selected: list[tuple[Span, T]] = []
    last_end = -1
    for span, _order, payload in ranked:
        if span[0] >= last_end:
            selected.append((span, payload))
            last_end = span[1]
    return selected
