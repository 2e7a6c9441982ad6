"""A tiny pattern language for the word lists, compiled to regular expressions.

Word-list patterns are written in plain Dutch so that HR staff can maintain them:

* Words are separated by spaces. In the text they may be separated by any run of
  whitespace, hyphens or commas: "jong en dynamisch" matches "jong-en-dynamisch" and
  "jong, en dynamisch".
* ``*`` at the end of a word is a stem wildcard: "ambiti*" matches "ambitie",
  "ambitieus", "ambitieuze". ``*`` at the start allows a compound prefix: "*ervaring"
  matches "werkervaring". A lone ``*`` is any single word ("* (m)" matches
  "medewerker (m)").
* ``{getal}`` is a number, in digits or as a Dutch number word ("5", "vijf").
* ``...`` allows up to three arbitrary words ("maximaal {getal} jaar ... *ervaring"
  matches "maximaal 5 jaar relevante werkervaring").
* Within a word a hyphen followed by optional whitespace is tolerated between any two
  letters, which covers line-break hyphenation ("sa-\\nmenwerken").
* Patterns match whole words only: a pattern that starts or ends with a letter needs a
  word boundary there, and a hyphenated compound ("starters-woning") does not count as a
  boundary. So "starters" does not match inside "starterswoning".

Patterns are folded with :func:`~procedures.textcheck.normalise.fold`, so they match
regardless of case and diacritics.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .normalise import fold

WORD_SEPARATOR = r"[\s,\-]+"
SOFT_BREAK = r"(?:-\s*)?"
GAP = rf"(?:\w+{WORD_SEPARATOR}){{0,3}}"
# The rest of a word after a stem: letters, a plural "'s" or a line-break hyphen.
STEM_REST = r"(?:\w|'s(?!\w)|-[ \t]*\n\s*(?=\w))*"
NUMBER_WORDS = (
    "een",
    "twee",
    "drie",
    "vier",
    "vijf",
    "zes",
    "zeven",
    "acht",
    "negen",
    "tien",
    "elf",
    "twaalf",
    "vijftien",
    "twintig",
)
NUMBER = r"(?:\d+|" + "|".join(NUMBER_WORDS) + ")"
LEFT_BOUNDARY = r"(?<!\w)(?<!\w-)"
RIGHT_BOUNDARY = r"(?!\w)(?!-\w)"


def _compile_word(word: str) -> str:
    """Compile one space-free token of a pattern to a regex fragment."""
    if word == "*":
        return r"\w+"
    if word == "{getal}":
        return NUMBER
    prefix = r"\w*" if word.startswith("*") else ""
    suffix = STEM_REST if word.endswith("*") else ""
    core = word.strip("*")
    pieces: list[str] = []
    for index, char in enumerate(core):
        if index and char.isalnum() and core[index - 1].isalnum():
            pieces.append(SOFT_BREAK)
        pieces.append(re.escape(char))
    return prefix + "".join(pieces) + suffix


def _needs_boundary(word: str, at_start: bool) -> bool:
    """A boundary is needed where the pattern begins/ends with a word character."""
    if word in ("*", "{getal}"):
        return True
    edge = word[0] if at_start else word[-1]
    return edge == "*" or edge.isalnum()


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a word-list pattern (see module docstring) to a regular expression."""
    words = fold(pattern).split()
    if not words or words[0] == "..." or words[-1] == "...":
        raise ValueError(f"invalid pattern: {pattern!r}")
    fragments: list[str] = []
    gap_pending = False
    for word in words:
        if word == "...":
            gap_pending = True
            continue
        if fragments:
            fragments.append(WORD_SEPARATOR + (GAP if gap_pending else ""))
        fragments.append(_compile_word(word))
        gap_pending = False
    left = LEFT_BOUNDARY if _needs_boundary(words[0], at_start=True) else ""
    right = RIGHT_BOUNDARY if _needs_boundary(words[-1], at_start=False) else ""
    return re.compile(left + "".join(fragments) + right)


def find_spans(patterns: tuple[str, ...], text: str) -> Iterator[tuple[int, int]]:
    """Yield the (start, end) spans in the folded ``text`` matched by any pattern."""
    for pattern in patterns:
        for match in compile_pattern(pattern).finditer(text):
            if match.end() > match.start():
                yield match.start(), match.end()


def overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    """True if ``span`` shares at least one character with any span in ``others``."""
    return any(span[0] < end and start < span[1] for start, end in others)
