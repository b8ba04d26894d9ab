"""Turning a member's text into an idea's kind, title, body and tags.

``parse_message`` runs on every message in a watched channel, so its untagged path is a
couple of C-level substring scans and nothing else; only a message that might carry a tag
pays for the regular expressions.

Accepted tag forms (case-insensitive), for a configured tag such as ``idea``:

- ``[idea]`` anywhere in the first non-empty line, optionally wrapped in markdown emphasis
  (``**[idea]**``) and with spaces inside the brackets (``[ Idea ]``);
- ``[#idea]``, the way members type it when they expect a channel-style tag;
- ``[<#123…>]``: what Discord sends when the client turned ``#idea`` into a mention of a
  channel called ``idea``; resolved through ``channel_names`` when the caller passes it;
- a bare ``#idea`` as the very first word (a leading hashtag).

A channel mention next to the tag (``[idea]<#123> needs a FAQ``) is ordinary text and stays.
Bracketed labels right next to a leading tag (``[idea][mobile] Offline mode``) become the
idea's tags.

What members typed is cleaned first (:mod:`bot.domain.text`: no control, ANSI escape or
bidirectional override characters, NFC), so the tag, title, body and tags are read from
what will be stored, and a title with nothing visible left is refused here with a message
that says so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from bot.domain.errors import DomainError
from bot.domain.ideas import TITLE_MAX, IdeaKind, normalise_tags, validate_body
from bot.domain.text import clean_block, clean_line, has_visible, require_visible

DEFAULT_TAGS: Final[Mapping[str, str]] = {k.value: k.value for k in IdeaKind}

# A tag is a short word: letters, digits, hyphen, underscore; what fits in square brackets.
_TAG_NAME = re.compile(r"[^\W_][\w-]{0,31}")
_NONSPACE = re.compile(r"\S")
# Labels next to a leading tag: "[mobile]" but not "[a link](https://…)" nor "[[wiki]]".
_LABEL = re.compile(r"[ \t]*\[[ \t]*#?[ \t]*([^\[\]\n]{1,32}?)[ \t]*\](?!\()")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")
# Markdown headings / subtext markers a member may put before the title.
_HEADING = re.compile(r"^(?:#{1,3}|-#)\s+")
# Separators left behind once the tag is gone: "[idea]: Dark mode", "Dark mode - [idea]".
_SEPARATORS = " \t:-–—|>•·"
_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class CapturedText:
    """What a tagged message or forum post says, ready to become an idea."""

    kind: str
    title: str
    body: str
    tags: tuple[str, ...]


class CaptureConfig:
    """A guild's tag → kind mapping, compiled once. Build one per configuration and reuse it.

    ``tags`` maps a tag as members type it (``"bug"``) to the idea kind it creates
    (``"bug"``); several tags may share a kind. ``default_kind`` is the kind of a forum post
    whose tags name no kind.
    """

    __slots__ = ("_bracket_re", "_hashtag_re", "default_kind", "tags")

    def __init__(
        self, tags: Mapping[str, str] = DEFAULT_TAGS, *, default_kind: str = IdeaKind.IDEA.value
    ) -> None:
        cleaned: dict[str, str] = {}
        for raw_tag, raw_kind in tags.items():
            tag = raw_tag.strip().lstrip("#").lower()
            kind = raw_kind.strip().lower()
            if not _TAG_NAME.fullmatch(tag):
                raise DomainError(
                    "bad_tag",
                    f"`{raw_tag}` cannot be a tag: use up to 32 letters, digits or hyphens.",
                )
            if not kind:
                raise DomainError("bad_tag", f"The tag `{tag}` needs a kind.")
            cleaned[tag] = kind
        if not cleaned:
            raise DomainError("bad_tag", "Configure at least one capture tag.")
        self.tags: Mapping[str, str] = cleaned
        self.default_kind = default_kind.strip().lower()
        # Longest first so that "idea" never shadows "ideas" inside the alternation.
        alternation = "|".join(re.escape(t) for t in sorted(cleaned, key=len, reverse=True))
        self._bracket_re = re.compile(
            r"(?P<md>[*_`]{0,3})\[[ \t]*(?:#[ \t]*)?"
            rf"(?:(?P<name>{alternation})|<#(?P<chan>\d+)>)"
            r"[ \t]*\](?P=md)",
            re.IGNORECASE,
        )
        self._hashtag_re = re.compile(rf"#(?P<name>{alternation})(?![\w-])", re.IGNORECASE)

    def kind_for(self, name: str | None) -> str | None:
        """The kind a tag (or a forum tag / channel name) stands for, if it is configured."""
        if not name:
            return None
        return self.tags.get(name.strip().lstrip("#").lower())

    def find_tag(
        self,
        text: str,
        start: int,
        end: int,
        channel_names: Mapping[int, str] | None = None,
    ) -> tuple[str, int, int] | None:
        """The first tag in ``text[start:end]`` as ``(kind, tag_start, tag_end)``, or None."""
        leading = self._hashtag_re.match(text, start, end)
        if leading is not None:
            kind = self.kind_for(leading.group("name"))
            if kind is not None:
                return kind, leading.start(), leading.end()
        for match in self._bracket_re.finditer(text, start, end):
            name = match.group("name")
            if name is None:
                if channel_names is None:
                    continue
                name = channel_names.get(int(match.group("chan")))
            kind = self.kind_for(name)
            if kind is not None:
                return kind, match.start(), match.end()
        return None


DEFAULT_CAPTURE: Final = CaptureConfig()

#: The word that asks for anonymity in a tag (``[idea anonymous]``) or as a label.
ANONYMOUS_WORD: Final = "anonymous"


def asks_anonymous(
    text: str, config: CaptureConfig = DEFAULT_CAPTURE, captured: CapturedText | None = None
) -> bool:
    """Whether a tagged message asks to be anonymous: an ``[anonymous]`` label next to the
    tag of ``captured`` (what the message parsed as), or, for a message that captured
    nothing, ``[idea anonymous]`` (no configured tag). Such a message cannot be anonymous
    (it shows its author): the caller says so. Cheap on the capture path: a membership
    test when it was captured, and text is read again only when it names the word."""
    if captured is not None:
        return ANONYMOUS_WORD in captured.tags
    if "[" not in text or ANONYMOUS_WORD not in text.lower():
        return False
    first = clean_block(text).lstrip().partition("\n")[0]
    return _anonymous_tag(tuple(config.tags)).search(first) is not None


@functools.lru_cache(maxsize=64)
def _anonymous_tag(tags: tuple[str, ...]) -> re.Pattern[str]:
    """``[<tag> anonymous]`` for a guild's tags (compiled once per tag list)."""
    names = "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
    return re.compile(rf"\[[ \t]*#?[ \t]*(?:{names})[ \t]+{ANONYMOUS_WORD}[ \t]*\]", re.IGNORECASE)


def parse_message(
    text: str,
    config: CaptureConfig = DEFAULT_CAPTURE,
    *,
    channel_names: Mapping[int, str] | None = None,
) -> CapturedText | None:
    """Read a tagged message, or return None when it carries no configured tag.

    ``channel_names`` (channel id → name) lets a tag that Discord turned into a channel
    mention still count. Raises :class:`DomainError` when the message is tagged but has no
    title, or its description is over ``BODY_MAX``.
    """
    # Fast path: every tag form contains "[" or "#"; most messages contain neither.
    if "[" not in text and "#" not in text:
        return None
    return _parse_tagged(clean_block(text), config, channel_names)


def _parse_tagged(
    text: str, config: CaptureConfig, channel_names: Mapping[int, str] | None
) -> CapturedText | None:
    # ``text`` is already cleaned (clean_block).
    first = _NONSPACE.search(text)
    if first is None:
        return None
    start = first.start()
    end = text.find("\n", start)
    if end == -1:
        end = len(text)
    found = config.find_tag(text, start, end, channel_names)
    if found is None:
        return None
    kind, tag_start, tag_end = found

    before = text[start:tag_start]
    after = text[tag_end:end]
    labels: list[str] = []
    if not before.strip():
        # Labels only next to a leading tag: elsewhere brackets are ordinary prose.
        before = ""
        after = _take_labels(after, labels, channel_names)
    line = f"{before} {after}"
    rest = text[end + 1 :]

    title_line = _strip_leading_tags(_clean_title(line), config, channel_names)
    typed_invisible = bool(title_line)
    if not has_visible(title_line):
        # "[idea]" alone on the first line: the title is the next non-empty line.
        title_line, _, rest = rest.lstrip().partition("\n")
        title_line = _strip_leading_tags(_clean_title(title_line), config, channel_names)
    if not title_line and not typed_invisible:
        raise DomainError(
            "title_empty",
            "Your idea needs a title after the tag, e.g. `[idea] Dark mode for the editor`.",
        )
    require_visible(title_line, field="title after the tag")
    title, overflow = split_title(title_line)
    body = _join_body(overflow, rest)
    return CapturedText(kind, title, validate_body(body), tuple(labels))


def parse_captured(
    text: str,
    config: CaptureConfig = DEFAULT_CAPTURE,
    *,
    channel_names: Mapping[int, str] | None = None,
) -> CapturedText:
    """Read a message someone captured with "Capture as idea": any message may become one.

    A tagged message reads as :func:`parse_message` reads it; any other takes its first
    line as the title (an over-long one cut by :func:`split_title`, the overflow opening the
    body), the rest as the body, kind ``idea`` and no tags. The title and body are not
    validated here: an empty title is the caller's to refuse.
    """
    text = clean_block(text)
    parsed = _parse_tagged(text, config, channel_names)
    if parsed is not None:
        return parsed
    title, _, body = text.partition("\n")
    title, overflow = split_title(title.strip())
    body = (overflow + "\n" + body).strip() if overflow else body.strip()
    return CapturedText(IdeaKind.IDEA.value, title, body, ())


def _strip_leading_tags(
    line: str, config: CaptureConfig, channel_names: Mapping[int, str] | None
) -> str:
    """Drop tags that still open the title ("[idea] # [idea] Dark mode" → "Dark mode")."""
    while line:
        found = config.find_tag(line, 0, len(line), channel_names)
        if found is None or line[: found[1]].strip():
            return line
        line = _clean_title(line[found[2] :])
    return line


def parse_forum_post(
    title: str,
    content: str,
    applied_tag_names: Iterable[str],
    config: CaptureConfig = DEFAULT_CAPTURE,
) -> CapturedText:
    """Read a new post in the ideas forum; every post there is an idea, tagged or not.

    The kind comes from a tag in the post title (``[bug] Crash on start``), else from the
    first applied forum tag that names a configured tag, else ``config.default_kind``.
    Every applied forum tag becomes an idea tag (lowercased, order kept, no repeats).
    """
    tags = normalise_tags(applied_tag_names)
    kind: str | None = None
    title = clean_line(title)
    content = clean_block(content)
    found = config.find_tag(title, 0, len(title)) if ("[" in title or "#" in title) else None
    if found is not None:
        kind, tag_start, tag_end = found
        title = f"{title[:tag_start]} {title[tag_end:]}"
    if kind is None:
        kind = next((k for k in map(config.kind_for, tags) if k is not None), None)
    cleaned = _clean_title(title)
    if not cleaned:
        raise DomainError("title_empty", "The post needs a title.")
    require_visible(cleaned, field="post's title")
    head, overflow = split_title(cleaned)
    body = _join_body(overflow, content)
    return CapturedText(kind or config.default_kind, head, validate_body(body), tags)


def split_title(line: str, limit: int = TITLE_MAX) -> tuple[str, str]:
    """Split an over-long title on a word boundary: ``(title ending in "…", overflow)``.

    A title within ``limit`` comes back unchanged with empty overflow. A single word longer
    than about half the limit (a URL) is cut mid-word rather than leaving a stub title.
    """
    if len(line) <= limit:
        return line, ""
    room = limit - len(_ELLIPSIS)
    cut = line.rfind(" ", 0, room + 1)
    if cut < room // 2:
        cut = room
    head = line[:cut].rstrip()
    return head + _ELLIPSIS, line[cut:].strip()


def _take_labels(
    after: str,
    labels: list[str],
    channel_names: Mapping[int, str] | None,
) -> str:
    # Consume "[label]" groups directly after the leading tag; return what is left.
    pos = 0
    while (match := _LABEL.match(after, pos)) is not None:
        label = _label_name(match.group(1), channel_names)
        if label is None:
            break
        if label not in labels:
            labels.append(label)
        pos = match.end()
    return after[pos:]


def _label_name(raw: str, channel_names: Mapping[int, str] | None) -> str | None:
    mention = _CHANNEL_MENTION.fullmatch(raw)
    if mention is not None:
        if channel_names is None:
            return None
        raw = channel_names.get(int(mention.group(1)), "")
    label = clean_line(raw.lower())
    return label if has_visible(label) else None


def _clean_title(line: str) -> str:
    # One line, no leftover separators or markdown heading markers around the title.
    text = " ".join(line.split()).strip(_SEPARATORS)
    return _HEADING.sub("", text).strip(_SEPARATORS) if text[:1] in "#-" else text


def _join_body(overflow: str, rest: str) -> str:
    body = rest.strip()
    if not overflow:
        return body
    # The truncated title's remainder opens the body, so nothing the member wrote is lost.
    lead = _ELLIPSIS + overflow
    return f"{lead}\n\n{body}" if body else lead


__all__ = [
    "DEFAULT_CAPTURE",
    "DEFAULT_TAGS",
    "CaptureConfig",
    "CapturedText",
    "parse_captured",
    "parse_forum_post",
    "parse_message",
    "split_title",
]
