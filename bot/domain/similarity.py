"""Finding existing ideas that a new submission probably duplicates.

How a lookup works, and why:

1. **Normalise** title and body into tokens: lowercase, accents and punctuation dropped,
   stop words and request filler ("please add an option to…") removed, a light suffix
   stemmer (``reminders`` → ``reminder``, ``syncing`` → ``sync``), and a small table of
   generic software-product synonyms that *adds* a shared token next to the member's own
   words (``hotkey`` and ``shortcut`` both add ``shortcut``; ``two-step`` adds ``2fa``).
2. **Typos**: a query word the index has never seen is mapped to the closest known word
   (at most one edit, two for long words; same first letter), e.g. ``mdoe`` → ``mode``.
3. **Shortlist** with an inverted index (token → idea ids), weighting shared tokens by
   inverse document frequency (IDF), rarest first. Once enough candidates are found,
   commoner tokens only re-score them, and words found in over half of all ideas are
   skipped, so the work per lookup stays bounded as the index grows (p95 ≈ 20 ms at
   100,000 synthetic ideas on the 2-core dev machine).
4. **Score** the shortlist: rapidfuzz's ``token_set_ratio`` over the token sets (robust to
   word order, extra words and partial overlap) combined with the IDF cosine (sharing
   only common words is weak evidence), then multiplied by how much of the new title's
   weight the candidate contains: a submission whose title introduces a new, distinctive
   word ("*Outlook* calendar sync" next to "Google Calendar sync") is pushed down, while
   rephrasings keep their score.

Scores are 0–100. The threshold, title weight and blend were chosen on the ``tuning``
split of ``tests/data/duplicates.json``; its ``holdout`` split was written afterwards.
``tests/unit/test_similarity.py`` checks recall@3 and the false-match rate on the whole set
(run it as a script to print the figures).

The index is pure CPU work and holds no event-loop state: a service runs ``similar`` in a
worker thread (``asyncio.to_thread``). Every public method takes an internal lock, so
lookups, additions and removals may come from different threads.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
import sys
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TypeVar

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

# Chosen on the labelled set (see the module docstring); exposed so guilds can tune them.
DEFAULT_THRESHOLD: Final = 33.0
# Share of the score that depends on the new title's words being present in the candidate.
TITLE_WEIGHT: Final = 0.5
# How many candidates the inverted index hands to the (more expensive) fuzzy scorer.
SHORTLIST: Final = 600
# A long description yields many tokens; the rarest ones are enough to find candidates.
MAX_QUERY_TERMS: Final = 32
# Only the start of a long description is indexed: duplicates show in the gist, and it
# bounds memory and scoring time at 100,000 ideas.
BODY_CHARS: Final = 600
# rapidfuzz's extract over a dict of choices keeps the GIL for the whole call: measured
# ≈ 3–4 ms for a full shortlist, while the event loop, which needs the GIL too, waits.
# Calls of this many candidates keep each hold well under 1 ms; the results are the same.
FUZZY_BATCH: Final = 100
# Off the main thread, long work pauses for _PAUSE once per _WORK_SLICE. The event loop
# needs the GIL at least twice per iteration and, while a worker thread computes, would
# otherwise wait up to CPython's switch interval (5 ms) each time; a worker that lets go
# by itself hands it over at once. Measured with `cocreate bench ideas` (c) at 100,000
# ideas on 2 cores: longest loop stall per run ≈ 17–20 ms → ≈ 4–7 ms (an idle loop shows
# 1–3 ms there), for lookups ≈ 10–20% slower in wall time.
_WORK_SLICE: Final = 0.001
_PAUSE: Final = 0.0002

_T = TypeVar("_T")

# Written as prose for readability; split once at import.
_STOP_WORDS: Final = frozenset(
    """
    a an the and or but nor of to in on for with without by at from as into onto about like
    than then there here when where what which who whom how why whether if so not no yes do
    does did doing done be is are was were been being am it its this that these those i me my
    mine myself we our ours us you your yours they them their he she his her him one ones some
    any all each every both either neither more most much many other another such own same
    very really just also too only even still now already again ever always maybe perhaps
    please pls plz thanks thank thx hi hello hey can could should would will shall may might
    must need needs want wants wish get gets got getting let lets make makes made have has had
    having way ways thing things something anything nothing everything instead right currently
    actually basically honestly etc eg ie im id ive dont doesnt cant cannot wont isnt arent
    feature features option options add adding able possibility possible allow allows
    support supported supporting nice great good better best idea ideas request suggestion
    suggest
    """.split()  # noqa: SIM905
)

# Multi-word expressions → a shared token. Matched on the normalised word sequence.
_PHRASES: Final[dict[str, str]] = {
    "two factor": "2fa",
    "2 factor": "2fa",
    "two step": "2fa",
    "2 step": "2fa",
    "multi factor": "2fa",
    "single sign on": "sso",
    "to do": "task",
    "to dos": "task",
    "real time": "realtime",
    "co editing": "collab",
    "key binding": "shortcut",
    "key bindings": "shortcut",
    "sign in": "login",
    "log in": "login",
    "sign out": "logout",
    "log out": "logout",
    "without internet": "offline",
    "no internet": "offline",
    "no connection": "offline",
    "without a connection": "offline",
    "no signal": "offline",
    "no network": "offline",
    "recycle bin": "trash",
    "deleted items": "trash",
    "dark mode": "darkmode",
    "dark theme": "darkmode",
    "night mode": "darkmode",
    "night theme": "darkmode",
    "black theme": "darkmode",
    "get back": "restore",
    "bring back": "restore",
    "start up": "startup",
    "screen reader": "screenreader",
    "screen readers": "screenreader",
    "zero knowledge": "encrypt",
    "end to end": "encrypt",
    "speech to text": "transcribe",
    "text to speech": "tts",
    "right to left": "rtl",
    "spell check": "spellcheck",
    "spell checker": "spellcheck",
    "face id": "biometric",
    "touch id": "biometric",
    "pin code": "passcode",
    "blocked by": "depend",
    "side by side": "splitview",
    "split screen": "splitview",
    "split view": "splitview",
    "time zone": "timezone",
    "time zones": "timezone",
    "sub task": "subtask",
    "sub tasks": "subtask",
    "sub item": "subtask",
    "sub items": "subtask",
    "sub folder": "subfolder",
    "sub folders": "subfolder",
    "multi select": "bulk",
    "at once": "bulk",
    "in one go": "bulk",
    "daily note": "journal",
    "daily notes": "journal",
    "focus timer": "pomodoro",
    "web clipper": "clip",
    "wiki link": "backlink",
    "wiki links": "backlink",
    "e mail": "email",
    "order by": "sort",
    "profile picture": "avatar",
    "user interface": "ui",
}

# Single words → a shared token (UK/US spellings, abbreviations, common product synonyms).
_SYNONYM_GROUPS: Final[dict[str, str]] = {
    "2fa": "2fa mfa totp",
    "sso": "sso saml okta",
    "task": "todo todos",
    "collab": "coediting collaborative collaboration collaborate",
    "shortcut": "hotkey hotkeys keybinding keybindings shortcut shortcuts",
    "login": "login signin logon",
    "logout": "logout signout",
    "offline": "offline",
    "trash": "trash bin wastebasket",
    "image": "image images picture pictures photo photos pic pics img",
    "notify": "notification notifications notify notified alert alerts",
    "repeat": "repeat repeating repeats recur recurring recurrence recuring",
    "delete": "delete deleted deleting remove removed erase wipe wiped",
    "restore": "restore recover undelete revert",
    "version": "version versions revision revisions",
    "subfolder": "subfolder subfolders nested nesting",
    "attach": "upload uploads attachment attachments attach attached",
    "increase": "bigger larger increase raise higher",
    "decrease": "smaller decrease reduce lower",
    "speed": "slow sluggish laggy lag faster fast speed performance",
    "startup": "startup launch",
    "color": "color colour colors colours colored coloured",
    "favorite": "favorite favourite favorites favourites bookmark bookmarks",
    "configure": "customise customize customisable customizable configurable configure rebind"
    " remap",
    "setting": "setting settings preference preferences",
    "document": "doc docs document documents",
    "app": "application app apps",
    "mobile": "phone iphone android ios smartphone mobile",
    "tablet": "tablet ipad",
    "email": "email emails mail",
    "team": "teammate teammates colleague colleagues coworker coworkers team",
    "accessible": "accessibility accessible a11y",
    "screenreader": "voiceover nvda jaws talkback",
    "encrypt": "encrypt encryption encrypted e2e e2ee",
    "api": "api rest sdk endpoint",
    "math": "math maths equation equations formula formulas latex katex",
    "code": "snippet snippets code",
    "kanban": "kanban board",
    "timeline": "gantt timeline",
    "subtask": "subtask subtasks checklist checklists",
    "priority": "priority priorities prioritize prioritise",
    "timezone": "timezone timezones",
    "bulk": "bulk batch multiple",
    "transcribe": "transcribe transcribed transcription transcript dictation",
    "audio": "voice audio recording",
    "discount": "discount discounted cheaper",
    "education": "student students education teacher teachers school university",
    "biometric": "fingerprint biometric biometrics",
    "battery": "battery drain",
    "rtl": "rtl",
    "spellcheck": "spellcheck spellchecker spelling",
    "scan": "scan scanner scanning ocr",
    "habit": "habit habits streak streaks",
    "sort": "sort sorting",
    "mention": "mention mentions",
    "clip": "clipper",
    "backlink": "backlink backlinks wikilink",
    "journal": "journal diary",
    "depend": "dependency dependencies blocker blocked",
    "translate": "translate translation localization localisation i18n",
    "crash": "crash crashes crashing freeze freezes",
    "tag": "tag tags label labels",
    "folder": "folder folders directory directories",
    "emoji": "emoji emojis emoticon emoticons",
    "avatar": "avatar avatars",
    "ui": "ui interface layout",
}
_WORD_SYNONYMS: Final[dict[str, str]] = {
    word: canonical for canonical, words in _SYNONYM_GROUPS.items() for word in words.split()
}
_PHRASE_RE: Final = re.compile(
    r"(?<!\S)(?:"
    + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True))
    + r")(?!\S)"
)
# Letters and digits of any script; "_" is punctuation here.
_WORD_RE: Final = re.compile(r"[^\W_]+")
# (suffix, replacement, minimum word length): conservative, applied once, first match wins.
_SUFFIXES: Final = (
    ("ies", "y", 5),
    ("sses", "ss", 5),
    ("ings", "", 7),
    ("ing", "", 6),
    ("edly", "", 7),
    ("ed", "", 5),
    ("ise", "", 6),
    ("ize", "", 6),
    ("ers", "", 7),
    ("er", "", 6),
    ("ly", "", 6),
    ("s", "", 4),
)


#: Texts whose tokens are kept (the latest lookups' titles and bodies).
NORMALISED_CACHE = 1024


def stem(word: str) -> str:
    """Strip one common English suffix so that plural and verb forms meet.

    Deliberately light: it only has to map a word and its variants to the same string,
    not to a dictionary word (``organiser`` → ``organis``).
    """
    if len(word) <= 3 or not word.isascii() or word.isdigit():
        return word
    for suffix, replacement, min_len in _SUFFIXES:
        if len(word) >= min_len and word.endswith(suffix):
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)] + replacement
    return word


def _words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # "don't" → "dont": an apostrophe joins, it does not split.
    return _WORD_RE.findall(plain.replace("'", "").replace("’", ""))


def normalise(text: str) -> list[str]:
    """Tokens for similarity: stemmed content words plus synonym tokens, in text order.

    May contain repeats; callers that need a set make one.
    """
    return list(_normalised(text))


@functools.lru_cache(maxsize=NORMALISED_CACHE)
def _normalised(text: str) -> tuple[str, ...]:
    # Cached: a captured idea's text is normalised for its lookup, then again when the
    # next lookup indexes it (add_later); the cache answers the second time.
    return tuple(_normalise(text))


def _normalise(text: str) -> list[str]:
    words = _words(text)
    tokens: list[str] = []
    if len(words) > 1:
        tokens.extend(_PHRASES[m.group(0)] for m in _PHRASE_RE.finditer(" ".join(words)))
    for word in words:
        synonym = _WORD_SYNONYMS.get(word)
        if synonym is not None:
            tokens.append(synonym)
        if word not in _STOP_WORDS:
            tokens.append(stem(word))
    return tokens


def _max_edits(token: str) -> int:
    # Short words have too many one-edit neighbours to guess safely.
    if len(token) < 4 or token.isdigit():
        return 0
    return 2 if len(token) >= 8 else 1


class _Breather:
    """Call it often during long work: once per _WORK_SLICE it sleeps _PAUSE (see there).

    On the main thread (tests, scripts) it does nothing: nobody is waiting there, and on
    an event loop's own thread sleeping would only stall it.
    """

    __slots__ = ("_active", "_due")

    def __init__(self) -> None:
        self._active = threading.current_thread() is not threading.main_thread()
        self._due = time.perf_counter() + _WORK_SLICE

    def __call__(self) -> None:
        if self._active and time.perf_counter() >= self._due:
            time.sleep(_PAUSE)
            self._due = time.perf_counter() + _WORK_SLICE

    def over(self, items: Iterable[_T], every: int) -> Iterator[_T]:
        """``items`` unchanged, breathing after every ``every`` of them."""
        for n, item in enumerate(items, 1):
            yield item
            if not n % every:
                self()


def _fuzzy_scores(
    query: str, choices: dict[int, str], cutoff: float, breathe: _Breather
) -> Iterator[tuple[str, float, int]]:
    """``token_set_ratio`` of ``query`` against every choice scoring ≥ ``cutoff``, as
    rapidfuzz's ``process.extract`` gives them, in batches of FUZZY_BATCH (see there)."""
    items = list(choices.items())
    for start in range(0, len(items), FUZZY_BATCH):
        breathe()
        yield from process.extract(
            query,
            dict(items[start : start + FUZZY_BATCH]),
            scorer=fuzz.token_set_ratio,
            limit=None,
            score_cutoff=cutoff,
        )


@dataclass(frozen=True, slots=True)
class SimilarIdea:
    """An existing idea that resembles the query, with a 0–100 score."""

    idea_id: int
    score: float


#: Ideas waiting in :meth:`SimilarityIndex.add_later` before the caller indexes them itself.
LATER_MAX = 64


#: Up to this many ideas, a lookup costs less (≈ 0.2–0.4 ms of CPU here) than handing it
#: to a worker thread and back does, so :meth:`SimilarityIndex.similar_now` runs it where
#: it is asked (see ``cocreate bench ideas`` (d)).
INLINE_MAX = 500


class SimilarityIndex:
    """Duplicate candidates for one guild's ideas, kept in memory.

    Add every visible idea (``add`` replaces an idea already present, e.g. after an edit);
    remove hidden, merged or deleted ones, or pass their ids as ``exclude_ids``.
    """

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        title_weight: float = TITLE_WEIGHT,
        shortlist: int = SHORTLIST,
    ) -> None:
        if not 0.0 <= title_weight <= 1.0:
            raise ValueError("title_weight must be within [0, 1]")
        if shortlist < 1:
            raise ValueError("shortlist must be at least 1")
        self.threshold = threshold
        self.title_weight = title_weight
        self.shortlist = shortlist
        self._lock = threading.RLock()
        # idea id → its tokens, sorted and space-joined: what token_set_ratio compares.
        self._docs: dict[int, str] = {}
        # idea id → (norm of its IDF vector, number of ideas when it was computed).
        self._norms: dict[int, tuple[float, int]] = {}
        # token → ids of the ideas containing it. Dicts with None values rather than sets:
        # a dict holding only ints is invisible to the cyclic garbage collector, a set never
        # is, and at 100,000 ideas the posting sets made every full collection — a pause of
        # the whole process, event loop included — take ≈ 50 ms (≈ 2 ms without). They are
        # smaller too (sets over-allocate): 82 MB instead of 123 MB at 100,000 ideas.
        self._postings: dict[str, dict[int, None]] = {}
        # First character → known tokens starting with it, for typo correction.
        self._vocab: dict[str, dict[str, str]] = {}
        # Ideas handed over by add_later, indexed by whichever call comes next (under the
        # lock, in order). deque.append is atomic: the caller never waits for the lock.
        self._later: deque[tuple[int, str, str]] = deque()

    def __len__(self) -> int:
        with self._lock:
            self._catch_up()
            return len(self._docs)

    def __contains__(self, idea_id: object) -> bool:
        with self._lock:
            self._catch_up()
            return idea_id in self._docs

    def add_later(self, idea_id: int, title: str, body: str = "") -> None:
        """:meth:`add`, done by the next call on the index (a lookup, in its thread).

        For the event loop: indexing a new idea costs tokenising its text, and handing it
        to a thread just for that costs more (two thread wake-ups per idea); the next
        lookup runs in a thread anyway, and sees the idea as if it had been added now."""
        self._later.append((idea_id, title, body))
        # Without lookups (none may come for a while) the backlog is indexed here, now and
        # then, if no lookup holds the lock: it never grows without bound.
        if len(self._later) >= LATER_MAX and self._lock.acquire(blocking=False):
            try:
                self._catch_up()
            finally:
                self._lock.release()

    def _catch_up(self) -> None:
        while self._later:
            self._add(*self._later.popleft())

    def add(self, idea_id: int, title: str, body: str = "") -> None:
        """Index an idea, replacing its previous text if it is already indexed."""
        with self._lock:
            self._catch_up()
            self._add(idea_id, title, body)

    def _add(self, idea_id: int, title: str, body: str) -> None:
        words = _normalised(title) + _normalised(body[:BODY_CHARS])
        tokens = sorted({sys.intern(t) for t in words})
        with self._lock:
            if idea_id in self._docs:
                self._unindex(idea_id)
            self._docs[idea_id] = " ".join(tokens)
            for token in tokens:
                posting = self._postings.get(token)
                if posting is None:
                    self._postings[token] = posting = {}
                    self._vocab.setdefault(token[0], {})[token] = token
                posting[idea_id] = None
            self._norms[idea_id] = (self._compute_norm(tokens, {}), len(self._docs))

    def add_many(self, ideas: Iterable[tuple[int, str, str]]) -> None:
        """Index many ``(idea_id, title, body)`` at once (e.g. when loading a guild)."""
        breathe = _Breather()
        for idea_id, title, body in ideas:
            self.add(idea_id, title, body)
            breathe()

    def remove(self, idea_id: int) -> None:
        """Forget an idea; unknown ids are ignored."""
        with self._lock:
            self._catch_up()
            if idea_id in self._docs:
                self._unindex(idea_id)

    def _unindex(self, idea_id: int) -> None:
        del self._norms[idea_id]
        for token in self._docs.pop(idea_id).split():
            posting = self._postings[token]
            posting.pop(idea_id, None)
            if not posting:
                del self._postings[token]
                bucket = self._vocab[token[0]]
                del bucket[token]
                if not bucket:
                    del self._vocab[token[0]]

    def similar_now(
        self,
        title: str,
        body: str = "",
        *,
        k: int = 3,
        exclude_ids: Collection[int] = (),
        max_ideas: int = INLINE_MAX,
    ) -> list[SimilarIdea] | None:
        """:meth:`similar` on the caller's thread when that is cheap, else None (then call
        :meth:`similar` in a worker thread): the index holds at most ``max_ideas`` ideas
        and no other thread holds its lock. Never waits for the lock."""
        if len(self._docs) + len(self._later) > max_ideas:  # sizes read without the lock
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self.similar(title, body, k=k, exclude_ids=exclude_ids)
        finally:
            self._lock.release()

    def similar(
        self,
        title: str,
        body: str = "",
        *,
        k: int = 3,
        threshold: float | None = None,
        exclude_ids: Collection[int] = (),
    ) -> list[SimilarIdea]:
        """Up to ``k`` indexed ideas resembling ``title``/``body``, best first.

        Only scores at or above ``threshold`` (default: the index's) are returned.
        """
        cutoff = self.threshold if threshold is None else threshold
        title_tokens = set(_normalised(title))
        all_tokens = title_tokens | set(_normalised(body[:BODY_CHARS]))
        if k < 1 or not all_tokens or cutoff > 100.0:
            return []
        breathe = _Breather()
        with self._lock:
            self._catch_up()
            if not self._docs:
                return []
            mapping = {t: self._correct(t) for t in breathe.over(all_tokens, 1)}
            # Unknown tokens keep their (maximal) weight: they are what is new in the query.
            weights = {m: self._idf(m) ** 2 for m in mapping.values()}
            candidates = self._shortlist(
                {m for m in weights if m in self._postings}, exclude_ids, breathe
            )
            if not candidates:
                return []
            choices = {i: self._docs[i] for i in candidates}
            idf_cache: dict[str, float] = {}
            norms = {i: self._norm(i, idf_cache) for i in breathe.over(candidates, 64)}
            title_terms = [
                (weights[m], self._postings.get(m, {})) for m in {mapping[t] for t in title_tokens}
            ]
            title_found = {
                i: sum(w for w, posting in title_terms if i in posting)
                for i in breathe.over(candidates, 128)
            }
        # From here on only local data is read: other threads may use the index meanwhile.
        query = " ".join(sorted(weights))
        query_norm = math.sqrt(sum(weights.values()))
        title_total = sum(w for w, _ in title_terms)
        # The final score never exceeds 100 * (ratio / 100) ** (2/3): skip hopeless ratios.
        ratio_cutoff = 100.0 * (min(max(0.0, cutoff), 100.0) / 100.0) ** 1.5
        # Nor does it exceed what a perfect ratio would give with the candidate's cosine and
        # title coverage: candidates below the cutoff even then are not worth the fuzzy
        # scorer, which costs most of a lookup. Lossless: the same ideas come out.
        keep = self.title_weight
        hopeless = cutoff - 1e-9
        for idea_id in breathe.over(list(choices), 128):
            cosine = min(1.0, candidates[idea_id] / (query_norm * norms[idea_id]))
            coverage = title_found[idea_id] / title_total if title_total > 0 else 1.0
            if 100.0 * cosine ** (1.0 / 3.0) * (1.0 - keep + keep * coverage) < hopeless:
                del choices[idea_id]
        scored: list[tuple[float, float, int]] = []
        for _, ratio, idea_id in _fuzzy_scores(query, choices, ratio_cutoff, breathe):
            cosine = min(1.0, candidates[idea_id] / (query_norm * norms[idea_id]))
            coverage = title_found[idea_id] / title_total if title_total > 0 else 1.0
            score = self._combine(ratio, cosine, coverage)
            if score >= cutoff:
                scored.append((score, cosine, idea_id))
        best = heapq.nlargest(k, scored)
        return [SimilarIdea(idea_id, round(score, 1)) for score, _, idea_id in best]

    def _combine(self, ratio: float, cosine: float, coverage: float) -> float:
        # Weighted geometric mean: the fuzzy ratio carries most of the weight (robust to
        # wording), the IDF cosine keeps ideas that share only common words from scoring
        # high, which matters more as the index grows. Both must be non-trivial.
        blend = ((ratio / 100.0) ** 2 * cosine) ** (1.0 / 3.0)
        return 100.0 * blend * (1.0 - self.title_weight + self.title_weight * coverage)

    def _norm(self, idea_id: int, idf_cache: dict[str, float]) -> float:
        # The length of the idea's IDF vector, cached. IDF depends on the number of ideas, so
        # a cached norm is refreshed once the index has grown or shrunk by a quarter.
        size = len(self._docs)
        norm, computed_at = self._norms[idea_id]
        if 0.8 * size <= computed_at <= 1.25 * size:
            return norm
        norm = self._compute_norm(self._docs[idea_id].split(), idf_cache)
        self._norms[idea_id] = (norm, size)
        return norm

    def _compute_norm(self, tokens: Iterable[str], idf_cache: dict[str, float]) -> float:
        total = 0.0
        for token in tokens:
            idf = idf_cache.get(token)
            if idf is None:
                idf_cache[token] = idf = self._idf(token)
            total += idf * idf
        return math.sqrt(total) or 1.0

    def _idf(self, token: str) -> float:
        # Smoothed so that a token in every idea still weighs a little, and an unknown
        # token (df 0) weighs the most: it is what makes the query different.
        df = len(self._postings.get(token, ()))
        return math.log(1.0 + (len(self._docs) + 1) / (df + 0.5))

    def _correct(self, token: str) -> str:
        if token in self._postings:
            return token
        max_edits = _max_edits(token)
        bucket = self._vocab.get(token[0]) if max_edits else None
        if not bucket:
            return token
        matches = process.extract(
            token, bucket, scorer=OSA.distance, score_cutoff=max_edits, limit=8
        )
        if not matches:
            return token
        # Fewest edits first; among equals the commonest word is the likelier intent.
        best = min(matches, key=lambda m: (m[1], -len(self._postings[m[0]])))
        return best[0]

    def _shortlist(
        self, tokens: set[str], exclude_ids: Collection[int], breathe: _Breather | None = None
    ) -> dict[int, float]:
        """Candidate id → IDF-weighted overlap with the query, the ``self.shortlist`` best.

        Work is bounded whatever the query: rarest tokens first; once enough candidates are
        found, commoner tokens only re-score them; words found in over half of all ideas
        are skipped, and at most ``MAX_QUERY_TERMS`` tokens are used.
        """
        breathe = breathe or _Breather()
        postings = self._postings
        ordered = sorted(tokens, key=lambda t: len(postings[t]))
        seed_limit = 4 * self.shortlist
        # Skipping very common words only matters for speed, so small indexes keep them all.
        common = max(len(self._docs) // 2, 8 * seed_limit)
        useful = [t for t in ordered if len(postings[t]) <= common] or ordered[:1]
        acc: dict[int, float] = {}
        for token in useful[:MAX_QUERY_TERMS]:
            breathe()
            posting = postings[token]
            weight = self._idf(token) ** 2
            if len(acc) < seed_limit:
                # Only long posting lists pay for the breathing generator.
                ids = breathe.over(posting, 2048) if len(posting) > 4096 else posting
                for idea_id in ids:
                    acc[idea_id] = acc.get(idea_id, 0.0) + weight
                if len(acc) > 8 * seed_limit:
                    # Only common words so far: keep the best (and, on ties, newest) ideas.
                    acc = self._best(acc, seed_limit, exclude_ids, by_norm=False, breathe=breathe)
            else:
                # Iterate whichever side is smaller; the intersection itself runs in C.
                if len(posting) < len(acc):
                    shared: Iterable[int] = [i for i in posting if i in acc]
                else:
                    shared = posting.keys() & acc.keys()
                for idea_id in shared:
                    acc[idea_id] += weight
        return self._best(acc, self.shortlist, exclude_ids, by_norm=True, breathe=breathe)

    def _best(
        self,
        acc: dict[int, float],
        limit: int,
        exclude_ids: Collection[int],
        *,
        by_norm: bool,
        breathe: _Breather,
    ) -> dict[int, float]:
        for idea_id in exclude_ids:
            acc.pop(idea_id, None)
        if len(acc) <= limit:
            return acc
        items = breathe.over(acc.items(), 512)
        if by_norm:
            # Cosine with the cached norm (possibly slightly stale: good enough to shortlist)
            # so that long descriptions, which share some word with everything, do not
            # crowd out short, focused ideas.
            norms = self._norms
            return dict(heapq.nlargest(limit, items, key=lambda kv: kv[1] / norms[kv[0]][0]))
        return dict(heapq.nlargest(limit, items, key=lambda kv: (kv[1], kv[0])))
