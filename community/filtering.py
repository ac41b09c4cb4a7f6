"""The sensitive-word check of the boards (docs/COMMUNITY.md, "Sensitive words and the cloud check").

Chinese has no spaces between words, so regular-expression word boundaries
(``\\b``) separate nothing: a listed word is matched as a *substring*, with one
Aho–Corasick pass over the text (pyahocorasick), whatever the size of the list.
People who want to get a word past a filter write it with separators (法*轮 功),
in full-width or upper-case letters, in traditional characters, in pinyin
(fa lun gong, 法lun功) or with homophones (珐仑功). So the text is matched twice:

- literally, after :func:`normalise` (NFKC, case folded, nothing but letters and
  digits left) — separators, full width and case are gone;
- by sound, after :func:`pinyin_key` (every Han character → its first toneless
  reading, Latin letters and digits kept) — pinyin, mixed spellings, traditional
  characters and homophones meet the word's own key. A pinyin hit must start and
  end on syllable boundaries of the text ("xian" inside 西安 is not 先), and
  single-character words are never matched by sound: one syllable has too many
  characters, ordinary text would be held all day.

A hit holds a post for moderation; it never rejects it (community.services).

:func:`text_check` uses the district's list in the database, built into a
:class:`Matcher` once per process and rebuilt when the list's version changed
(:func:`wordlist_bump`, called by every change of the list in its transaction).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick
from django.db import connection
from django.db.models import F
from django.utils import timezone

__all__ = [
    "CheckResult",
    "Matcher",
    "normalise",
    "pinyin_key",
    "text_check",
    "wordlist_bump",
]

# Everything that is not a letter or a digit (in any script): spaces, zero-width
# characters (format characters are not alphanumeric), punctuation, symbols,
# combining marks, and the underscore that ``\w`` would keep.
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
_NOT_ASCII_KEY = re.compile(r"[^a-z0-9]+")
_NOT_MARK = re.compile(r"[^01]+")


def normalise(text: str) -> str:
    """NFKC, case folded, only letters and digits left (CJK included).

    The form every listed word is stored in, and the form a text is searched in."""
    if not text:
        return ""
    return _NOT_LETTER_OR_DIGIT.sub("", unicodedata.normalize("NFKC", text).casefold())


def _toneless(reading: str) -> str:
    plain = unicodedata.normalize("NFKD", reading)
    return "".join(ch for ch in plain if "a" <= ch <= "z")


_TABLES: tuple[dict[int, str], dict[int, str]] | None = None
_TABLE_LOCK = threading.Lock()


def _pinyin_tables() -> tuple[dict[int, str], dict[int, str]]:
    """Two translate tables, built once per process from pypinyin's dictionary
    (about 42,000 characters):

    - the sound: a Han character → its first toneless reading; a Latin letter
      with a tone mark or accent (ǎ, ü) → its plain letter;
    - the syllable marks, one per letter of the sound: "1" where a syllable
      starts, "0" inside one (Latin letters and digits are each a "1": someone
      typing pinyin runs the syllables together)."""
    global _TABLES
    if _TABLES is None:
        with _TABLE_LOCK:
            if _TABLES is None:
                from pypinyin.pinyin_dict import pinyin_dict

                sound: dict[int, str] = {}
                for codepoint, readings in pinyin_dict.items():
                    key = _toneless(readings.split(",", 1)[0])
                    if key:
                        sound[codepoint] = key
                for codepoint in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
                    char = chr(codepoint).casefold()
                    key = _toneless(char)
                    if key and len(char) == 1:
                        sound[codepoint] = key
                marks = {cp: "1" + "0" * (len(key) - 1) for cp, key in sound.items()}
                for char in "abcdefghijklmnopqrstuvwxyz0123456789":
                    marks[ord(char)] = "1"
                _TABLES = (sound, marks)
    return _TABLES


def _pinyin_of_normalised(normalised: str) -> str:
    return _NOT_ASCII_KEY.sub("", normalised.translate(_pinyin_tables()[0]))


def _syllable_marks(normalised: str) -> str:
    """One "1"/"0" per letter of the sound of ``normalised`` (see _pinyin_tables)."""
    return _NOT_MARK.sub("", normalised.translate(_pinyin_tables()[1]))


def pinyin_key(text: str) -> str:
    """The sound of ``text``: 法轮功, 法lun功, fa lun gong, 法輪功, 珐仑功 → "falungong"."""
    return _pinyin_of_normalised(normalise(text))


class _FixedWidthCodes(dict):
    """codepoint → four characters of a 64-letter alphabet (24 bits: all of Unicode).

    pyahocorasick keeps a node's children in a list, so a trie of 10,000 Chinese
    words has thousands of children at its root and every step of the search
    scans them. Spelled in 64 letters, no node has more than 64: the literal
    pass is some thirty times faster. Filled as characters are met."""

    BASE = 64
    WIDTH = 4

    def __missing__(self, codepoint: int) -> str:
        digits = []
        rest = codepoint
        for _ in range(self.WIDTH):
            rest, digit = divmod(rest, self.BASE)
            digits.append(chr(0x100 + digit))
        code = "".join(reversed(digits))
        self[codepoint] = code
        return code


_CODES = _FixedWidthCodes()


def _encoded(normalised: str) -> str:
    return normalised.translate(_CODES)


@dataclass(frozen=True)
class CheckResult:
    hit: bool
    categories: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


NO_HIT = CheckResult(hit=False)


def _automaton(entries: dict[str, list]):
    if not entries:
        return None
    automaton = ahocorasick.Automaton()
    for key, payload in entries.items():
        automaton.add_word(key, (len(key), tuple(payload)))
    automaton.make_automaton()
    return automaton


class Matcher:
    """A word list ready to check texts: two automatons, one literal, one by sound."""

    def __init__(self, literal, by_sound, size: int = 0):
        self._literal = literal
        self._by_sound = by_sound
        self.size = size

    @classmethod
    def from_words(cls, rows: Iterable[tuple[str, str, bool]]) -> Matcher:
        """``rows``: (word, category, match_pinyin). Words are normalised here too."""
        literal: dict[str, list[tuple[str, str]]] = {}
        by_sound: dict[str, list[tuple[str, str, tuple[int, ...]]]] = {}
        size = 0
        for word, category, match_pinyin in rows:
            key = normalise(word)
            if not key:
                continue
            size += 1
            literal.setdefault(_encoded(key), []).append((key, category))
            if match_pinyin and len(key) >= 2:
                sound = _pinyin_of_normalised(key)
                # A word of Latin letters and digits is its own sound: the literal
                # pass finds it already.
                if len(sound) >= 2 and sound != key:
                    marks = _syllable_marks(key)
                    starts = tuple(i for i, mark in enumerate(marks) if mark == "1" and i)
                    by_sound.setdefault(sound, []).append((key, category, starts))
        return cls(_automaton(literal), _automaton(by_sound), size)

    def check(self, text: str) -> CheckResult:
        normalised = normalise(text)
        if not normalised:
            return NO_HIT
        found: dict[str, str] = {}
        if self._literal is not None:
            width = _FixedWidthCodes.WIDTH
            for end, (length, payload) in self._literal.iter(_encoded(normalised)):
                if (end + 1 - length) % width:
                    continue  # straddles two characters' codes
                for word, category in payload:
                    found.setdefault(word, category)
        if self._by_sound is not None:
            sound = _pinyin_of_normalised(normalised)
            marks: str | None = None
            for end, (length, payload) in self._by_sound.iter(sound):
                start = end + 1 - length
                for word, category, starts in payload:
                    if word in found:
                        continue
                    if marks is None:
                        marks = _syllable_marks(normalised)
                    # The hit must begin and end where the text's syllables do, and
                    # the word's syllables must begin where the text's do (先 is
                    # "xian" but not 西安).
                    if marks[start] != "1" or (end + 1 < len(marks) and marks[end + 1] != "1"):
                        continue
                    if any(marks[start + offset] != "1" for offset in starts):
                        continue
                    found[word] = category
        if not found:
            return NO_HIT
        return CheckResult(
            hit=True,
            categories=tuple(sorted(set(found.values()))),
            words=tuple(found),
        )


# --- the district's list -------------------------------------------------------------

_cache_lock = threading.Lock()
_cached: tuple[tuple, Matcher] | None = None
_VERSION_ROW = 1


def _list_version() -> tuple:
    from .models import WordListVersion

    row = WordListVersion.objects.filter(pk=_VERSION_ROW).values_list("version", "changed_at")
    # changed_at as well as the number: a bump that was rolled back leaves the
    # same number to the next one, never the same instant.
    return tuple(row.first() or (0, None))


def text_check(text: str) -> CheckResult:
    """``text`` against the active words of the district's list (one query when
    the list did not change since this process last built its matcher)."""
    global _cached
    from .models import SensitiveWord

    version = _list_version()
    cached = _cached
    if cached is None or cached[0] != version:
        with _cache_lock:
            cached = _cached
            if cached is None or cached[0] != version:
                rows = SensitiveWord.objects.filter(is_active=True).values_list(
                    "word", "category", "match_pinyin"
                )
                cached = (version, Matcher.from_words(rows))
                _cached = cached
    return cached[1].check(text)


def wordlist_bump() -> None:
    """Mark the list changed, in the caller's transaction: every process rebuilds
    its matcher at its next check after that transaction commits.

    One row; the first bump inserts it with ``ON CONFLICT`` so that two first
    bumps at once give one row (the second waits for the first and adds one)."""
    from .models import WordListVersion

    now = timezone.now()
    updated = WordListVersion.objects.filter(pk=_VERSION_ROW).update(
        version=F("version") + 1, changed_at=now
    )
    if updated:
        return
    table = connection.ops.quote_name(WordListVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, version, changed_at) VALUES (%s, 1, %s) "
            f"ON CONFLICT (id) DO UPDATE SET version = {table}.version + 1, "
            "changed_at = EXCLUDED.changed_at",
            [_VERSION_ROW, now],
        )
