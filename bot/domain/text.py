"""Cleaning what members and moderators type, once, where it enters Cocreate.

Every text a person types that Cocreate stores (idea titles, descriptions and tags,
reasons of every kind, setting values...) goes through one of these functions before it is
validated and written; a feature that adds a free-text input calls them too:

- :func:`clean_line` for one-line fields (a title, a tag, a short setting): line breaks and
  tabs become spaces and runs of white space collapse to one;
- :func:`clean_block` for multi-line fields (a description, a reason): line breaks (as
  ``\\n``) and tabs stay;
- :func:`has_visible` / :func:`require_visible` for fields that must show something.

Both cleaners, in this order:

1. remove ANSI escape sequences whole (``ESC [ 31 m``, ``ESC ] … BEL``, ``ESC ( B``…),
   not only their ESC, so no ``[31m`` litter is left;
2. drop C0 and C1 control characters (NUL, BEL, backspace, DEL, ESC…), except the line
   breaks and tabs described above, and lone surrogates (SQLite cannot encode them);
3. drop the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
   U+2066–U+2069): they reorder what is displayed without changing what is stored, which
   is how ``Refund \\u202egnp.exe`` shows as "Refund exe.png";
4. normalise to NFC, so that the same word typed on two keyboards is the same string
   (search, duplicates, tags);
5. strip surrounding white space.

Kept on purpose: the bidirectional *marks* U+200E, U+200F and U+061C. They are how
right-to-left writers place punctuation and digits correctly, and unlike overrides they
cannot reverse a run of letters (a mark acts as one strong letter of its direction, and it
has no scope to leave open). Zero-width joiners and non-joiners (emoji sequences, Persian,
Indic scripts) and other format characters are kept too; none of them count as visible,
so a title made only of them is refused.

Both functions are idempotent and pure; the property tests in
``tests/unit/test_text.py`` hold them to that.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from bot.domain.errors import DomainError

# ANSI / ECMA-48 escape sequences introduced by ESC (7-bit form). The 8-bit C1 forms
# (U+009B as CSI...) are not parsed as sequences: a stray C1 character is far more often
# mis-decoded Windows-1252 text than a terminal command, so only the character itself goes
# (step 2), never the letters after it.
_ANSI: Final = re.compile(
    r"""
    \x1b\[ [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]                # CSI: ESC [ params final
    | \x1b[\]PX^_] [^\x07\x1b]* (?:\x07|\x1b\\)                 # OSC/DCS/SOS/PM/APC … BEL or ST
    | \x1b [\x20-\x2f]* [\x30-\x7e]                             # ESC ( B, ESC 7, ESC c...
    """,
    re.VERBOSE,
)
# Line breaks other than "\n" ("\r\n" is replaced first): "\n" is the one form kept.
_BREAKS: Final = re.compile("[\r\x0b\x0c\x85\u2028\u2029]")
# Dropped everywhere: C0 controls but tab and line feed, DEL and C1 controls, the
# bidirectional embeddings/overrides/isolates, and lone surrogates.
_DROP: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Anything steps 1-3 would change (ESC and the line breaks are in _DROP's ranges too).
_SUSPECT: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: The bidirectional controls removed (embeddings, overrides, their terminator, isolates).
BIDI_CONTROLS: Final = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
)
# Letters and symbols that are drawn as blank space (Hangul fillers, the blank Braille
# pattern): the usual ways to make a "blank" name or title that passes a naive check.
_BLANK_GLYPHS: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# General categories drawn as something: letters, spacing marks, numbers, punctuation,
# symbols, and private-use or unassigned code points (a font's own glyph, an emoji newer
# than this Python's Unicode tables, at worst a box). Not: separators, controls, format
# characters, non-spacing or enclosing marks on their own, surrogates.
_VISIBLE_CATEGORIES: Final = frozenset(
    {
        *("Lu", "Ll", "Lt", "Lm", "Lo", "Mc", "Nd", "Nl", "No"),
        *("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Co", "Cn"),
    }
)


def _strip_controls(text: str) -> str:
    # Most text has nothing to remove: one scan answers that (capture runs this on every
    # message that might carry a tag).
    if _SUSPECT.search(text) is None:
        return text
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    text = _BREAKS.sub("\n", text)
    return _DROP.sub("", text)


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def clean_block(text: str) -> str:
    """``text`` cleaned for a multi-line field: line breaks become ``\\n`` and stay, as do
    tabs; controls, ANSI escapes and bidirectional overrides are removed; NFC; stripped."""
    return _nfc(_strip_controls(text)).strip()


def clean_line(text: str) -> str:
    """``text`` cleaned for a one-line field: as :func:`clean_block`, then every run of
    white space (line breaks and tabs included) becomes one space."""
    return " ".join(_nfc(_strip_controls(text)).split())


def is_visible(char: str) -> bool:
    """Whether one character is drawn as something (not space, not an invisible format
    character, not a blank-looking filler)."""
    if unicodedata.category(char) not in _VISIBLE_CATEGORIES or char in _BLANK_GLYPHS:
        return False
    code = ord(char)
    # Noncharacters (U+FDD0-U+FDEF and the last two of every plane) are never drawn.
    return not (0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE)


def has_visible(text: str) -> bool:
    """Whether ``text`` shows at least one character."""
    return any(map(is_visible, text))


def require_visible(text: str, *, field: str) -> str:
    """Return ``text`` when it shows something; else raise :class:`DomainError`
    (``invisible_text``) telling the member that ``field`` looks blank."""
    if not has_visible(text):
        raise DomainError(
            "invisible_text",
            f"The {field} has no visible text: only spaces or invisible characters "
            "(such as zero-width spaces). Please write it out in words.",
        )
    return text


__all__ = [
    "BIDI_CONTROLS",
    "clean_block",
    "clean_line",
    "has_visible",
    "is_visible",
    "require_visible",
]
