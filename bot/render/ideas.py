"""How ideas look in Discord: cards, lists, history, notices. Text and embeds only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.domain.challenges import STAGE_LABEL, Stage
from bot.domain.idea_model import (
    FORMER_MEMBER,
    ChallengeTag,
    Idea,
    IdeaEvent,
    IdeaPage,
    Notice,
    SimilarCandidate,
    StatusChange,
)
from bot.domain.ideas import IdeaStatus, is_public

STATUS_STYLE: dict[IdeaStatus, tuple[str, str, discord.Colour]] = {
    IdeaStatus.NEW: ("🆕", "New", discord.Colour.blurple()),
    IdeaStatus.UNDER_REVIEW: ("🔎", "Under review", discord.Colour.gold()),
    IdeaStatus.PLANNED: ("🗓️", "Planned", discord.Colour.teal()),
    IdeaStatus.IN_PROGRESS: ("🛠️", "In progress", discord.Colour.orange()),
    IdeaStatus.IMPLEMENTED: ("🚀", "Implemented", discord.Colour.green()),
    IdeaStatus.DECLINED: ("🙅", "Declined", discord.Colour.red()),
    IdeaStatus.DUPLICATE: ("🔁", "Duplicate", discord.Colour.light_grey()),
    IdeaStatus.WITHDRAWN: ("↩️", "Withdrawn", discord.Colour.light_grey()),
    IdeaStatus.HIDDEN: ("🙈", "Hidden", discord.Colour.dark_grey()),
    IdeaStatus.PENDING_REVIEW: ("🕓", "Awaiting review", discord.Colour.light_grey()),
    IdeaStatus.REJECTED: ("🚫", "Rejected in review", discord.Colour.dark_red()),
}

#: How an anonymous idea's author is named wherever members can see it.
ANONYMOUS = "a member"


def status_label(status: IdeaStatus | str) -> str:
    if status not in STATUS_STYLE:  # a label another feature queued (a challenge stage)
        return str(status)
    emoji, label, _ = STATUS_STYLE[IdeaStatus(status)]
    return f"{emoji} {label}"


def person(member_id: int) -> str:
    return "a former member" if member_id == FORMER_MEMBER else f"<@{member_id}>"


def author_of(idea: Idea, *, reveal: bool = False) -> str:
    """The idea's author as members see it: "a member" when anonymous (unless ``reveal``,
    for the author themselves and moderators)."""
    if idea.anonymous and not reveal:
        return ANONYMOUS
    return person(idea.author_id)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def stamp(moment: datetime, style: str = "R") -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


def idea_card(
    idea: Idea,
    *,
    oppose_enabled: bool,
    similar: Sequence[SimilarCandidate] = (),
    reveal: bool = False,
) -> discord.Embed:
    """The card posted in the ideas channel (and kept up to date)."""
    _, _, colour = STATUS_STYLE[idea.status]
    embed = discord.Embed(
        title=clip(f"#{idea.number} · {idea.title}", 256),
        description=clip(idea.body, 1500) if idea.body else None,
        colour=colour,
        url=idea.source_url,
    )
    status = status_label(idea.status)
    if idea.status_reason:
        status += f"\n> {clip(idea.status_reason, 900)}"
    embed.add_field(name="Status", value=status, inline=False)
    votes = f"👍 {idea.support}"
    if oppose_enabled or idea.oppose:
        votes += f" · 👎 {idea.oppose}"
    embed.add_field(name="Votes", value=votes)
    embed.add_field(name="Kind", value=idea.kind)
    credit = author_of(idea, reveal=reveal)
    if idea.anonymous and reveal:
        credit += " (anonymous to members)"
    if idea.contributors:
        credit += " with " + ", ".join(person(c) for c in idea.contributors[:10])
    embed.add_field(name="By", value=clip(credit, 1024))
    if idea.tags:
        embed.add_field(name="Tags", value=clip(", ".join(f"`{t}`" for t in idea.tags), 1024))
    if idea.challenge is not None:
        embed.add_field(name="Challenge", value=challenge_line(idea.challenge), inline=False)
    if similar:
        embed.add_field(name="Similar ideas", value=similar_lines(similar), inline=False)
    if idea.flag:
        embed.add_field(name="Note", value=f"⚠️ {idea.flag}", inline=False)
    if idea.image_name:  # uploaded with the card (Discord's own links expire)
        embed.set_image(url=f"attachment://{idea.image_name}")
    embed.set_footer(text="Vote with the buttons · discuss in the thread")
    embed.timestamp = idea.created_at
    return embed


def challenge_line(tag: ChallengeTag) -> str:
    """ "🏁 #2 · Onboarding in a week — 📋 Shortlisted": the challenge an idea answers."""
    try:
        stage = STAGE_LABEL[Stage(tag.stage)]
    except ValueError:
        stage = tag.stage
    return clip(f"🏁 #{tag.number} · {tag.title} — {stage}", 1024)


def similar_lines(similar: Sequence[SimilarCandidate]) -> str:
    return "\n".join(
        f"#{s.number} · {clip(s.title, 80)} ({status_label(s.status)}, 👍 {s.support})"
        for s in similar
    )


def idea_line(idea: Idea) -> str:
    title = clip(idea.title, 90)
    return f"**#{idea.number}** {title} · {status_label(idea.status)} · 👍 {idea.support}"


def page_embed(title: str, page: IdeaPage, *, empty: str) -> discord.Embed:
    lines = [idea_line(i) + (f" · [card]({i.card_url})" if i.card_url else "") for i in page.items]
    embed = discord.Embed(title=title, description="\n".join(lines) or empty)
    embed.set_footer(text=f"Page {page.page}/{page.pages} · {page.total} idea(s)")
    return embed


def detail_embed(idea: Idea, *, oppose_enabled: bool, reveal: bool = False) -> discord.Embed:
    """``/idea show``: the card with its times and links; ``reveal`` names the author of an
    anonymous idea (the author themselves, moderators)."""
    embed = idea_card(idea, oppose_enabled=oppose_enabled, reveal=reveal)
    embed.add_field(name="Submitted", value=stamp(idea.created_at))
    if idea.first_response_at:
        embed.add_field(name="First response", value=stamp(idea.first_response_at))
    if idea.decided_at:
        embed.add_field(name="Decided", value=stamp(idea.decided_at))
    links = [f"[card]({idea.card_url})"] if idea.card_url else []
    if idea.source_url:
        links.append(f"[source]({idea.source_url})")
    if links:
        embed.add_field(name="Links", value=" · ".join(links))
    return embed


_EVENT_TEXT = {
    "submitted": "submitted",
    "edited": "edited the text",
    "flagged": "flagged",
    "merged_in": "merged another idea in",
    "unmerged": "undid a merge",
    "revealed": "revealed themselves as the author",
}


def history_embed(
    idea: Idea, events: Sequence[IdeaEvent], *, reveal: bool = False
) -> discord.Embed:
    lines = []
    for event in events[-20:]:
        who = person(event.actor_id) if event.actor_id is not None else "Cocreate"
        if idea.anonymous and not reveal and event.actor_id == idea.author_id:
            who = ANONYMOUS
        if event.kind == "status":
            old = status_label(event.old_status or "new")
            what = f"{old} → {status_label(event.new_status or 'new')}"
        else:
            what = _EVENT_TEXT.get(event.kind, event.kind)
        line = f"{stamp(event.created_at, 'f')} {who}: {what}"
        if event.reason:
            line += f" — {clip(event.reason, 200)}"
        lines.append(line)
    embed = discord.Embed(title=clip(f"History of #{idea.number} · {idea.title}", 256))
    embed.description = clip("\n".join(lines) or "Nothing yet.", 4000)
    return embed


def thread_status_text(change: StatusChange) -> str:
    """The one message in the idea's thread: it mentions nobody but the author."""
    # Anonymous: the author learns it by DM; the thread names nobody. A former member has
    # nobody to address.
    if change.idea.anonymous or change.idea.author_id == FORMER_MEMBER:
        text = f"This idea is now **{status_label(change.new)}** (was {status_label(change.old)})."
    else:
        text = (
            f"{person(change.idea.author_id)} your idea is now **{status_label(change.new)}** "
            f"(was {status_label(change.old)})."
        )
    if change.reason:
        text += f"\n> {clip(change.reason, 1500)}"
    return text


def thread_closing_text(idea: Idea) -> str:
    """The last message in a decided idea's thread, posted as it is archived and locked."""
    return (
        f"🔒 #{idea.number} is **{status_label(idea.status)}**, so this discussion is now "
        "closed. Thank you to everyone who took part! It reopens if the idea moves back to "
        "an open status."
    )


def author_dm_text(change: StatusChange, guild_name: str) -> str:
    idea = change.idea
    text = (
        f"Your idea **#{idea.number} · {clip(idea.title, 100)}** in {guild_name} is now "
        f"**{status_label(change.new)}** (was {status_label(change.old)})."
    )
    if change.reason:
        text += f"\nWhy: {clip(change.reason, 1500)}"
    if idea.card_url:
        text += f"\n{idea.card_url}"
    return text


def batched_dm_text(notices: Sequence[Notice], guild_name: str) -> str:
    lines = [f"Updates on ideas you follow in {guild_name}:"]
    for n in notices[:20]:
        change = f"{status_label(n.old_status)} → {status_label(n.new_status)}"
        line = f"• #{n.idea_number} {clip(n.idea_title, 80)}: {change}"
        if n.reason:
            line += f" — {clip(n.reason, 200)}"
        lines.append(line)
    if len(notices) > 20:
        lines.append(f"…and {len(notices) - 20} more.")
    lines.append("Turn these off with `/idea notifications off`.")
    return clip("\n".join(lines), 2000)


def shipped_text(idea: Idea) -> str:
    credit = author_of(idea)
    if idea.contributors:
        credit += " with " + ", ".join(person(c) for c in idea.contributors)
    link = f" {idea.card_url}" if idea.card_url else ""
    return clip(
        f"🚀 Shipped: **#{idea.number} · {idea.title}** — an idea by {credit}. Thank you!{link}",
        2000,
    )


def submitted_note(idea: Idea) -> str:
    """The ephemeral answer to an interactive submission (held or public)."""
    if idea.status is IdeaStatus.PENDING_REVIEW:
        return held_note(idea)
    text = f"Thanks! Your idea is #{idea.number}. {idea.card_url or ''}".strip()
    if idea.anonymous:
        text += "\nIts card says “a member”; `/idea reveal` puts your name on it later."
    return text


def already_captured_text(idea: Idea, viewer_id: int, *, moderator: bool) -> str:
    """The answer to "Capture as idea" on a message that already is an idea. An idea that
    is not public (held for review, rejected, hidden) is named only to moderators and its
    author: to anyone else its number would reveal what the queue keeps private."""
    if is_public(idea.status):
        return f"That message is already idea #{idea.number}. {idea.card_url or ''}".strip()
    if moderator:
        state = idea.status.value.replace("_", " ")
        return f"That message is already idea #{idea.number} ({state}, not public)."
    if idea.author_id == viewer_id and idea.status is IdeaStatus.PENDING_REVIEW:
        return (
            f"🕓 That message is already your idea #{idea.number}; it is waiting for a "
            "moderator's review."
        )
    return "That message has already been captured; it cannot be captured again."


def held_note(idea: Idea) -> str:
    """What the author of a held idea is told (ephemerally, or by DM)."""
    return (
        f"🕓 Thanks! Your idea #{idea.number} is waiting for a moderator's review; its card "
        "appears once it is approved, and you'll hear either way."
    )


def approved_dm_text(idea: Idea, guild_name: str) -> str:
    title = clip(idea.title, 100)
    text = f"✅ Your idea **#{idea.number} · {title}** in {guild_name} was approved."
    if idea.card_url:
        text += f" Vote and discuss: {idea.card_url}"
    return text


def queue_embed(ideas: Sequence[Idea], shown: int) -> discord.Embed:
    """``/idea queue``: the ideas waiting for review, oldest first (moderators only). An
    anonymous idea's author is not named here: looking them up is ``/idea show``, where
    each look is written to the mod log."""
    lines = []
    for idea in ideas[:shown]:
        who = f"{ANONYMOUS} (anonymous)" if idea.anonymous else person(idea.author_id)
        line = f"**#{idea.number}** {clip(idea.title, 80)} · {who} · {stamp(idea.created_at)}"
        if idea.body:
            line += f"\n> {clip(idea.body.replace(chr(10), ' '), 200)}"
        lines.append(line)
    embed = discord.Embed(
        title=f"Review queue · {len(ideas)} idea(s) waiting",
        description=clip("\n".join(lines), 4000) or "Nothing is waiting for review. 🎉",
        colour=discord.Colour.light_grey(),
    )
    if len(ideas) > shown:
        embed.set_footer(text=f"Showing the oldest {shown}; decide these to see the next.")
    return embed
