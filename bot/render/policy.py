"""How policy changes look in Discord: the announcement card, the full text, reminders, the
close summaries (anonymous in public, attributed for staff), the response, the in-effect
and cancellation posts, DMs and listings. Text and embeds only.

Each post starts with a line that names its policy and what it is: a retried publication
looks for that line to find what a crashed attempt already posted.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.policy import Decision, Outcome, PolicyStage, Stance
from bot.domain.policy_model import FORMER_MEMBER, Concern, ConcernGroup, Policy, PolicyView
from bot.render.ideas import clip, stamp

STAGE_STYLE: dict[PolicyStage, tuple[str, str, discord.Colour]] = {
    PolicyStage.DRAFT: ("📝", "Draft", discord.Colour.light_grey()),
    PolicyStage.ANNOUNCED: ("📣", "Open for comments", discord.Colour.blurple()),
    PolicyStage.CLOSED: ("🔒", "Comments closed · awaiting the response", discord.Colour.gold()),
    PolicyStage.RESPONDED: ("💬", "Staff responded", discord.Colour.teal()),
    PolicyStage.EFFECTIVE: ("✅", "In effect", discord.Colour.green()),
    PolicyStage.WITHDRAWN: ("🚫", "Withdrawn", discord.Colour.dark_grey()),
}
STANCE_STYLE: dict[Stance, tuple[str, str]] = {
    Stance.SUPPORT: ("👍", "Support"),
    Stance.CONCERNED: ("🤔", "Concerned"),
    Stance.OPPOSE: ("👎", "Oppose"),
}
DECISION_LABEL: dict[Decision, str] = {
    Decision.PROCEED: "✅ Proceed as announced",
    Decision.AMEND: "✏️ Proceed with amendments",
    Decision.WITHDRAW: "🚫 Withdrawn",
}
OUTCOME_LABEL: dict[Outcome, str] = {
    Outcome.CHANGED: "✅ Changed because of your input",
    Outcome.HEARD: "👂 Heard; not changing because",
}
#: Discord's limit for all the text of one message's embeds, with room to spare.
_EMBED_BUDGET = 5500


def heading(policy: Policy) -> str:
    return f"Policy #{policy.number} · {policy.title}"


def card_title(policy: Policy) -> str:
    return clip(heading(policy), 256)


def stage_label(policy: Policy) -> str:
    emoji, label, _ = STAGE_STYLE[policy.stage]
    if policy.stage is PolicyStage.CLOSED and policy.awaiting:
        return "⏳ Not in effect: awaiting the staff response"
    return f"{emoji} {label}"


def counts_line(policy: Policy) -> str:
    parts = [
        f"{STANCE_STYLE[Stance.SUPPORT][0]} {policy.support}",
        f"{STANCE_STYLE[Stance.CONCERNED][0]} {policy.concerned}",
        f"{STANCE_STYLE[Stance.OPPOSE][0]} {policy.oppose}",
        f"📝 {policy.concerns} concern{'s' if policy.concerns != 1 else ''}",
    ]
    return " · ".join(parts)


def close_moment(policy: Policy) -> str:
    if policy.close_at is not None:
        return f"{stamp(policy.close_at, 'F')} ({stamp(policy.close_at)})"
    if policy.period is not None:
        return f"{_days(policy.period.total_seconds())} after announcing"
    return "the server's default period after announcing"


def _days(seconds: float) -> str:
    hours = round(seconds / 3600)
    return f"{hours // 24} day(s)" if hours % 24 == 0 else f"{hours} hour(s)"


def card(policy: Policy) -> discord.Embed:
    """The announcement: what changes, the dates, live counts and, later, the response."""
    _, _, colour = STAGE_STYLE[policy.stage]
    description = clip(policy.summary, 1500)
    if policy.thread_url:
        description += f"\n\n📜 Full text and discussion: {policy.thread_url}"
    embed = discord.Embed(title=card_title(policy), description=description, colour=colour)
    embed.add_field(name="Stage", value=stage_label(policy), inline=False)
    embed.add_field(name="Comments close", value=close_moment(policy))
    embed.add_field(
        name="Takes effect",
        value=f"{stamp(policy.effective_at, 'F')} ({stamp(policy.effective_at)})",
    )
    if policy.stage is not PolicyStage.DRAFT:
        embed.add_field(name="Feedback", value=counts_line(policy), inline=False)
    if policy.affected_channels:
        embed.add_field(name="Affects", value=" ".join(f"<#{c}>" for c in policy.affected_channels))
    if policy.decision is not None:
        response = DECISION_LABEL[policy.decision]
        if policy.response_note:
            response += f"\n> {clip(policy.response_note, 800)}"
        embed.add_field(name="Response", value=response, inline=False)
    footer = {
        PolicyStage.DRAFT: "Draft: members do not see it yet",
        PolicyStage.ANNOUNCED: "One stance each, changeable until comments close",
    }.get(policy.stage, "The comment period has closed")
    embed.set_footer(text=footer)
    return embed


def announcement_content(policy: Policy) -> str | None:
    """The text above the card: the chosen role is pinged, never @everyone."""
    if policy.notify_role_id:
        return f"<@&{policy.notify_role_id}> a policy change is open for your comments."
    return None


def text_heading(policy: Policy, *, amended: bool = False) -> str:
    what = "amended text" if amended else "full text"
    return f"📜 **{clip(heading(policy), 200)}** — {what}"


def text_embed(policy: Policy, text: str) -> discord.Embed:
    shown = text if len(text) <= 4000 else text[:3900].rstrip() + "\n\n… (continued in the file)"
    return discord.Embed(description=shown, colour=STAGE_STYLE[policy.stage][2])


def affected_text(policy: Policy) -> str:
    link = policy.card_url or policy.thread_url or ""
    return clip(
        f"📣 **{heading(policy)}** changes how this channel works. "
        f"Comments are open until {close_moment(policy)}: {link}",
        2000,
    )


def reminder_text(policy: Policy) -> str:
    return (
        f"⏰ **{clip(heading(policy), 200)}**: comments close {close_moment(policy)}. "
        "Give your stance with the buttons on the announcement, or raise a concern."
    )


# -- summaries -------------------------------------------------------------------------------
def summary_heading(policy: Policy, *, staff: bool) -> str:
    who = " (for staff: with authors)" if staff else ""
    return f"🔒 **{clip(heading(policy), 200)}** — the comment period has closed{who}."


def _quote(concern: Concern, *, staff: bool, limit: int) -> str:
    line = f"> {clip(' '.join(concern.text.split()), limit)}"
    if staff:
        who = "a former member" if concern.author_id == FORMER_MEMBER else f"<@{concern.author_id}>"
        line += f" — {who} (#{concern.number})"
        if concern.idea_number is not None:
            line += f" → idea #{concern.idea_number}"
    return line


def _group_value(group: ConcernGroup, *, staff: bool, budget: int) -> str:
    quotes = group.concerns if staff else group.concerns[:3]
    per_quote = max(60, min(300, budget // max(1, len(quotes) + 1)))
    lines = [_quote(c, staff=staff, limit=per_quote) for c in quotes]
    if not staff and len(group.concerns) > len(quotes):
        lines.append(f"…and {len(group.concerns) - len(quotes)} more like these.")
    for suggestion in group.suggestions[:3]:
        lines.append(f"💡 Suggested: {clip(' '.join(suggestion.split()), per_quote)}")
    return clip("\n".join(lines), min(1024, budget))


def summary_embed(view: PolicyView, *, staff: bool) -> discord.Embed:
    """Stance counts and concerns grouped by similarity, each group with its count, quotes
    (anonymous in public, attributed for staff) and suggested changes."""
    policy = view.policy
    groups = view.groups
    total = sum(len(g.concerns) for g in groups)
    description = (
        f"{counts_line(policy)}\n"
        f"{total} concern{'s' if total != 1 else ''} in {len(groups)} group"
        f"{'s' if len(groups) != 1 else ''}."
    )
    if staff and groups:
        description += (
            "\nAnswer each group with `/policy answer`, then `/policy respond` before "
            f"{stamp(policy.effective_at, 'F')}."
        )
    embed = discord.Embed(
        title=clip(f"Feedback on {heading(policy)}", 256),
        description=description,
        colour=STAGE_STYLE[PolicyStage.CLOSED][2],
    )
    shown = groups[:20]
    budget = (_EMBED_BUDGET - len(description)) // max(1, len(shown)) - 40
    for group in shown:
        count = len(group.concerns)
        embed.add_field(
            name=f"Group {group.number} · {count} concern{'s' if count != 1 else ''}",
            value=_group_value(group, staff=staff, budget=budget),
            inline=False,
        )
    if len(groups) > len(shown):
        embed.set_footer(text=f"…and {len(groups) - len(shown)} more groups: /policy show")
    return embed


# -- the response ----------------------------------------------------------------------------
def response_heading(policy: Policy) -> str:
    assert policy.decision is not None
    return (
        f"💬 **{clip(heading(policy), 200)}** — staff response: {DECISION_LABEL[policy.decision]}"
    )


def response_embed(view: PolicyView) -> discord.Embed:
    policy = view.policy
    assert policy.decision is not None
    description = DECISION_LABEL[policy.decision]
    if policy.response_note:
        description += f"\n\n{clip(policy.response_note, 1000)}"
    if policy.decision is not Decision.WITHDRAW:
        description += f"\n\nTakes effect {stamp(policy.effective_at, 'F')}."
    if policy.decision is Decision.AMEND and policy.amended_body:
        description += f"\n\n**Amended text**\n{clip(policy.amended_body, 1500)}"
    embed = discord.Embed(
        title=clip(f"Response to {heading(policy)}", 256),
        description=clip(description, 4000),
        colour=STAGE_STYLE[PolicyStage.RESPONDED][2],
    )
    groups = view.groups[:20]
    budget = (_EMBED_BUDGET - len(embed.description or "")) // max(1, len(groups)) - 40
    for group in groups:
        answer = group.answer
        lines = [_quote(group.first, staff=False, limit=150)]
        if answer is not None:
            lines.append(f"**{OUTCOME_LABEL[answer.outcome]}**: {answer.text}")
        count = len(group.concerns)
        embed.add_field(
            name=f"Group {group.number} · {count} concern{'s' if count != 1 else ''}",
            value=clip("\n".join(lines), max(100, min(1024, budget))),
            inline=False,
        )
    return embed


def concern_dm_text(view: PolicyView, member_id: int, guild_name: str) -> str:
    """What a member who raised concerns is told about the response."""
    policy = view.policy
    assert policy.decision is not None
    lines = [
        f"Staff of {guild_name} responded to **{clip(heading(policy), 200)}**: "
        f"{DECISION_LABEL[policy.decision]}."
    ]
    for group in view.groups:
        mine = [c for c in group.concerns if c.author_id == member_id]
        if not mine or group.answer is None:
            continue
        numbers = ", ".join(f"#{c.number}" for c in mine)
        lines.append(
            f"About your concern {numbers}: {OUTCOME_LABEL[group.answer.outcome]}: "
            f"{clip(group.answer.text, 400)}"
        )
    if policy.thread_url:
        lines.append(policy.thread_url)
    return clip("\n".join(lines), 2000)


def concern_mentions_text(policy: Policy, member_ids: Sequence[int]) -> str:
    who = " ".join(f"<@{m}>" for m in member_ids)
    return clip(
        f"{who} staff answered your concerns on **{clip(heading(policy), 200)}** "
        "(your DMs are closed, so here): see the response above.",
        2000,
    )


# -- the effective date ------------------------------------------------------------------------
def effective_heading(policy: Policy) -> str:
    return f"✅ **{clip(heading(policy), 200)}** is now in effect."


def withdrawn_heading(policy: Policy) -> str:
    return f"🚫 **{clip(heading(policy), 200)}** is withdrawn: it will not take effect."


def awaiting_text(policy: Policy) -> str:
    return (
        f"⏳ **{clip(heading(policy), 200)}** was due to take effect today, but staff have not "
        "responded to the feedback yet, so it does **not** take effect. Their response will "
        "appear here."
    )


def staff_awaiting_text(policy: Policy) -> str:
    return (
        f"⏳ **{clip(heading(policy), 200)}** did not take effect today: it has no response. "
        "Answer each concern group (`/policy answer`), then `/policy respond` with a new "
        "effective date (or withdraw it)."
    )


def staff_reminder_text(policy: Policy) -> str:
    return (
        f"⏰ **{clip(heading(policy), 200)}** takes effect {stamp(policy.effective_at)} and has "
        "no response yet. Answer each concern group (`/policy answer`) and `/policy respond` "
        "before then, or it will not take effect."
    )


def failure_text(policy: Policy | None, what: str, attempts: int) -> str:
    name = heading(policy) if policy else "a policy"
    return (
        f"⚠️ Cocreate could not post the {what} of **{clip(name, 200)}** after {attempts} "
        "attempts (Discord down, or a permission removed?). It keeps trying; "
        "`/setup check` lists missing permissions."
    )


# -- listings ----------------------------------------------------------------------------------
def policy_line(policy: Policy) -> str:
    when = {
        PolicyStage.ANNOUNCED: f" · comments close {stamp(policy.close_at)}"
        if policy.close_at
        else "",
        PolicyStage.RESPONDED: f" · takes effect {stamp(policy.effective_at)}",
        PolicyStage.CLOSED: f" · effective date {stamp(policy.effective_at)}",
    }.get(policy.stage, "")
    link = f" · [announcement]({policy.card_url})" if policy.card_url else ""
    return (
        f"**#{policy.number}** {clip(policy.title, 80)} · {stage_label(policy)}{when}"
        f"\n{counts_line(policy)}{link}"
    )


def list_embed(items: Sequence[Policy], *, page: int, pages: int, total: int) -> discord.Embed:
    embed = discord.Embed(
        title="Policy changes",
        description="\n".join(policy_line(p) for p in items) or "No policy changes yet.",
    )
    embed.set_footer(text=f"Page {page}/{pages} · {total} policy change(s)")
    return embed


def detail_embeds(view: PolicyView, *, staff: bool) -> list[discord.Embed]:
    """``/policy show``: the card, then the feedback summary or the response."""
    policy = view.policy
    embeds = [card(policy)]
    embeds[0].add_field(name="Drafted", value=stamp(policy.created_at))
    if policy.announced_at:
        embeds[0].add_field(name="Announced", value=stamp(policy.announced_at))
    if policy.card_url:
        embeds[0].add_field(name="Announcement", value=f"[link]({policy.card_url})")
    if policy.decision is not None:
        embeds.append(response_embed(view))
    elif view.groups:
        embeds.append(summary_embed(view, staff=staff))
    elif staff and view.ungrouped:
        lines = [_quote(c, staff=True, limit=200) for c in view.ungrouped[:20]]
        embeds.append(
            discord.Embed(
                title="Concerns so far (staff only)", description=clip("\n".join(lines), 4000)
            )
        )
    return embeds


def preview_text(policy: Policy) -> str:
    return clip(
        f"📝 Draft **policy #{policy.number}** is saved; members do not see it yet. "
        f"Change it with `/policy edit number:{policy.number}`, announce it with "
        f"`/policy announce number:{policy.number}`.",
        2000,
    )
