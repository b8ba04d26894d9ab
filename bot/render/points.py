"""How points look in Discord: a member's card, leaderboards, histories, innovators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.domain.points import FORGOTTEN, InnovatorScore, Period
from bot.domain.points_model import LeaderboardPage, LedgerEntry, MemberPoints, SeasonStart
from bot.render import charts

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
PERIOD_TITLES = {
    Period.WEEK: "the last 7 days",
    Period.MONTH: "the last 30 days",
    Period.SEASON: "this season",
    Period.ALL: "all time",
}
COLOUR = discord.Colour.gold()


def person(member_id: int) -> str:
    """A mention, or words for a forgotten member."""
    return "a former member" if member_id == FORGOTTEN else f"<@{member_id}>"


def signed(value: int) -> str:
    """A number with its sign (+5, -3)."""
    return f"{value:+d}"


def entry_line(entry: LedgerEntry, *, with_actor: bool = False) -> str:
    """One ledger entry: when, how much, why (and who, for moderators)."""
    when = f"<t:{int(entry.created_at.timestamp())}:R>"
    text = f"`{signed(entry.delta):>5}` {entry.label} — {entry.reason} {when}"
    if entry.withheld:
        text += f" *(withheld {entry.withheld})*"
    if with_actor and entry.actor_id:
        text += f" · by {person(entry.actor_id)}"
    return text[:300]


def member_card(points: MemberPoints, display_name: str) -> discord.Embed:
    """``/points show``: totals, rank and the latest entries."""
    embed = discord.Embed(title=f"Points of {display_name}", colour=COLOUR)
    embed.add_field(name="All time", value=str(points.all_time))
    embed.add_field(name=f"Season {points.season_no}", value=str(points.season))
    embed.add_field(name="Rank", value=f"#{points.rank}" if points.rank else "—")
    recent = "\n".join(entry_line(e) for e in points.recent) or "Nothing yet."
    embed.add_field(name="Recent", value=recent[:1024], inline=False)
    embed.set_footer(text="Points reward outcomes: ideas planned and shipped pay the most.")
    return embed


def leaderboard_title(page: LeaderboardPage, family: str | None) -> str:
    """ "Leaderboard · the last 7 days · helpful" and the like."""
    scope = PERIOD_TITLES[page.period]
    if page.period is Period.SEASON:
        scope = f"season {page.season_no}"
    return f"Leaderboard · {scope}" + (f" · {family}" if family else "")


def _empty_board(page: LeaderboardPage) -> str:
    return "Nobody has points here yet." if page.page == 0 else "No more members."


def leaderboard_embed(page: LeaderboardPage, family: str | None) -> discord.Embed:
    """One page of a leaderboard."""
    lines = [
        f"{MEDALS.get(rank, f'`#{rank}`')} {person(member)} — **{points}**"
        for rank, member, points in page.rows
    ] or [_empty_board(page)]
    embed = discord.Embed(
        title=leaderboard_title(page, family), description="\n".join(lines), colour=COLOUR
    )
    embed.set_footer(text=f"Page {page.page + 1}")
    return embed


#: The file name of a leaderboard picture; the embed shows it as ``attachment://`` + this.
LEADERBOARD_IMAGE = "leaderboard.png"


def leaderboard_chart(page: LeaderboardPage, family: str | None, names: Mapping[int, str]) -> bytes:
    """One page of a leaderboard drawn as bars (PNG): "#rank name" and points, the podium
    in gold. ``names`` maps member ids to display names; a forgotten member is "a former
    member" and one not in ``names`` shows as their id.

    Draws with matplotlib (tens of milliseconds): call it off the event loop.
    """

    def name(member_id: int) -> str:
        if member_id == FORGOTTEN:
            return "a former member"
        return names.get(member_id) or str(member_id)

    return charts.horizontal_bars(
        leaderboard_title(page, family),
        [f"#{rank} {name(member)}" for rank, member, _ in page.rows],
        [points for _, _, points in page.rows],
        subtitle=f"Page {page.page + 1}",
        highlight={i for i, (rank, _, _) in enumerate(page.rows) if rank in MEDALS},
        empty_text=_empty_board(page),
        # A name no installed font draws is shown by its rank; the embed lists the name.
        fallback_labels=[f"#{rank}" for rank, _, _ in page.rows],
    )


def history_embed(member_name: str, entries: Sequence[LedgerEntry]) -> discord.Embed:
    """``/points history``: the latest entries with who made them (moderators)."""
    lines = [entry_line(e, with_actor=True) for e in entries] or ["No entries."]
    text = ""
    for line in lines:
        if len(text) + len(line) + 1 > 4000:
            text += "\n…"
            break
        text += ("\n" if text else "") + line
    return discord.Embed(title=f"Points history of {member_name}", description=text, colour=COLOUR)


def innovators_embed(scores: Sequence[InnovatorScore]) -> discord.Embed:
    """``/points innovators``: the score and each of its parts."""
    embed = discord.Embed(
        title="Innovators · last 365 days",
        description="10 × implemented + 5 × planned or in progress + Σ√votes per idea "
        "+ 0.5 × others' ideas voted on or discussed",
        colour=COLOUR,
    )
    if not scores:
        embed.add_field(name="Nobody yet", value="Ideas that get planned and shipped count most.")
    for rank, score in enumerate(scores, start=1):
        embed.add_field(
            name=f"{MEDALS.get(rank, f'#{rank}')} {score.score:.1f}",
            value=(
                f"{person(score.member_id)}\n"
                f"🚀 {score.implemented} · 🗓️ {score.planned} · "
                f"√votes {score.vote_root_sum:.1f} · 💬 {score.engaged}"
            ),
            inline=False,
        )
    return embed


def season_text(result: SeasonStart) -> str:
    """The announcement of a new season."""
    top = ", ".join(f"{person(m)} ({p})" for m, p in result.top) or "nobody scored"
    return (
        f"Season {result.opened} has started. Season {result.closed} is archived "
        f"({result.archived} members); its top: {top}. All-time totals are kept."
    )
