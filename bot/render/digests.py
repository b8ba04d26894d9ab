"""Digests as Discord embeds, split within Discord's limits (10 embeds and 6,000
characters per message, 4,096 per description, 256 per title)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import discord

from bot.domain.digest import period_label
from bot.domain.digest_model import Digest, DigestRun, DigestSection, RunStatus

MAX_EMBEDS = 10
MAX_TOTAL = 5800  # under 6,000 with room for footers
MAX_DESCRIPTION = 4000
COLOUR = discord.Colour.blurple()
CHART_NAME = "digest-activity.png"


def marker(run_id: int | None, part: int) -> str:
    """The footer by which a retry finds a part a crashed attempt posted."""
    return f"Cocreate digest {run_id if run_id is not None else 'preview'} · part {part}"


def _zone(digest: Digest) -> ZoneInfo:
    return ZoneInfo(digest.timezone)


def title_of(digest: Digest) -> str:
    label = period_label(digest.period, lambda d: d.astimezone(_zone(digest)))
    kind = "Digest so far" if digest.extra else "Community digest"
    late = " (late)" if digest.late else ""
    return f"📰 {kind}: {label}{late}"[:256]


def section_embed(section: DigestSection) -> discord.Embed:
    lines = list(section.lines)
    if section.more:
        lines.append(f"_More: {section.more}_")
    text = ""
    for line in lines:
        if len(text) + len(line) + 1 > MAX_DESCRIPTION:
            text += "\n…"
            break
        text += ("\n" if text else "") + line
    return discord.Embed(title=section.title[:256], description=text or "—", colour=COLOUR)


def digest_messages(digest: Digest, run_id: int | None) -> list[list[discord.Embed]]:
    """The digest as messages of embeds; the first starts with the title (and the staff
    note, which leads the published digest)."""
    head = discord.Embed(title=title_of(digest), colour=COLOUR, description=digest.schedule_label)
    if digest.note:
        head.add_field(name="📝 Note from staff", value=digest.note[:1024], inline=False)
    embeds = [head, *(section_embed(s) for s in digest.sections)]
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    size = 0
    for embed in embeds:
        length = len(embed)
        if current and (len(current) == MAX_EMBEDS or size + length > MAX_TOTAL):
            messages.append(current)
            current, size = [], 0
        current.append(embed)
        size += length
    if current:
        messages.append(current)
    for i, message in enumerate(messages, 1):
        message[-1].set_footer(text=f"{marker(run_id, i)}/{len(messages)}")
    return messages


def history_text(runs: list[DigestRun], zone: ZoneInfo) -> str:
    if not runs:
        return "No digest has been posted yet."
    icons = {
        RunStatus.PUBLISHED: "✅",
        RunStatus.SKIPPED: "⏭️",
        RunStatus.DRAFT: "📝",
        RunStatus.HELD: "✋",
        RunStatus.NO_CHANNEL: "⚠️",
    }
    lines = []
    for run in runs:
        label = period_label(run.period, lambda d: d.astimezone(zone))
        extra = " · extra (/digest now)" if run.kind == "extra" else ""
        late = " · late" if run.late and run.status is not RunStatus.SKIPPED else ""
        where = f" in <#{run.channel_id}>" if run.channel_id and run.status == "published" else ""
        lines.append(f"{icons.get(run.status, '⏳')} {label} — {run.status}{late}{extra}{where}")
    return "\n".join(lines)[:1900]


def when(moment: datetime | None) -> str:
    return "—" if moment is None else discord.utils.format_dt(moment, "f")
