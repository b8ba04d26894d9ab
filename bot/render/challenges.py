"""Embeds and texts of the Challenges feature: the announcement, a window's close, stage
notices, the leaderboard, the results and a mentor's welcome."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.challenge_model import Challenge, ChallengeView, Entry, Scorecard
from bot.domain.challenges import STAGE_LABEL as STAGE_LABEL
from bot.domain.challenges import Phase, Stage, Window, judge_score
from bot.render import charts
from bot.render.ideas import ANONYMOUS, clip, person, stamp

COLOUR = discord.Colour.gold()
#: Entries a leaderboard embed lists (one line each, within the 4,096-character description).
BOARD_MAX = 20
#: Rows of the results chart (the best scored ideas).
CHART_ROWS = 15
CHART_FILE = "challenge-results.png"

PHASE_LABEL = {
    Phase.SUBMISSIONS: "📥 Taking ideas",
    Phase.SCREENING: "🔎 Screening",
    Phase.SHORTLISTING: "📋 Shortlisting",
    Phase.JUDGING: "⚖️ Judging",
    Phase.CLOSED: "⏳ Judging closed — results soon",
    Phase.PUBLISHED: "🏆 Results published",
}


def heading(challenge: Challenge) -> str:
    return f"Challenge #{challenge.number} · {challenge.title}"


def criteria_text(challenge: Challenge) -> str:
    return " · ".join(f"{c.name} ×{c.weight}" for c in challenge.criteria)


def dates_text(challenge: Challenge) -> str:
    return "\n".join(
        (
            f"Ideas until {stamp(challenge.submission_end, 'f')}",
            f"Screening until {stamp(challenge.screening_end, 'f')}",
            f"Shortlist until {stamp(challenge.shortlist_end, 'f')}",
            f"Judging until {stamp(challenge.judging_end, 'f')}",
        )
    )


def announcement(challenge: Challenge) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"🏁 {heading(challenge)}", 256),
        description=clip(challenge.problem, 4000),
        colour=COLOUR,
    )
    embed.add_field(
        name="What a good answer looks like", value=clip(challenge.good_answer, 1024), inline=False
    )
    embed.add_field(name="Judged on", value=clip(criteria_text(challenge), 1024), inline=False)
    embed.add_field(name="Dates", value=dates_text(challenge), inline=False)
    embed.add_field(
        name="Rewards",
        value=f"🏆 Winner: {challenge.winner_points} points · 🏅 Finalists: "
        f"{challenge.finalist_points} points",
        inline=False,
    )
    embed.set_footer(
        text="Share an idea with the button or /idea submit challenge:"
        f"{challenge.number}; vote on the ideas — the crowd's favourite gets a wildcard."
    )
    return embed


def announcement_content(challenge: Challenge) -> str:
    return f"🏁 **New challenge: {clip(challenge.title, 200)}** — we need your ideas."


def window_text(challenge: Challenge, window: Window) -> str:
    head = f"**{clip(heading(challenge), 200)}**"
    return {
        Window.SUBMISSION: f"📪 {head}: submissions are closed. Staff now screen the ideas.",
        Window.SCREENING: f"🔎 {head}: screening is done; the shortlist comes next.",
        Window.SHORTLIST: f"📋 {head}: the shortlist is set; the judges score it now.",
        Window.JUDGING: f"⚖️ {head}: judging is closed. Results follow soon.",
    }[window]


def credit(entry: Entry) -> str:
    """Who an entry is by, as public posts say it ("a member" for an anonymous idea)."""
    return ANONYMOUS if entry.anonymous else person(entry.author_id)


def wildcard_line(entry: Entry) -> str:
    return (
        f"🃏 The crowd's wildcard: **#{entry.number} {clip(entry.title, 100)}** by "
        f"{credit(entry)} joins the finalists ({entry.net:+d} votes)."
    )


def stage_text(challenge: Challenge, entry: Entry, old: Stage, new: Stage, wildcard: bool) -> str:
    """The author's DM and the idea's thread message."""
    text = (
        f"{STAGE_LABEL[new]} — idea **#{entry.number} {clip(entry.title, 100)}** in "
        f"**{clip(heading(challenge), 150)}** (was {STAGE_LABEL[old]})."
    )
    if wildcard:
        text += " 🃏 A wildcard place, chosen by the crowd's votes!"
    return clip(text, 2000)


def _score(entry: Entry) -> str:
    if entry.score is None:
        return "not scored"
    return f"⭐ {entry.score:.2f} ({entry.judges} judge{'s' if entry.judges != 1 else ''})"


def board_line(rank: int, entry: Entry, *, scores: bool) -> str:
    parts = [f"`{rank:>2}.` **#{entry.number}** {clip(entry.title, 60)}"]
    parts.append(STAGE_LABEL[entry.stage] + (" 🃏" if entry.wildcard else ""))
    if scores:
        parts.append(_score(entry))
    parts.append(f"👍 {entry.support}" + (f" 👎 {entry.oppose}" if entry.oppose else ""))
    return " · ".join(parts)


def leaderboard(view: ChallengeView, *, private: bool = False) -> discord.Embed:
    """Entries by published judge score, with the crowd's votes beside them."""
    challenge = view.challenge
    lines = [
        board_line(i, e, scores=view.scores_shown)
        for i, e in enumerate(view.entries[:BOARD_MAX], 1)
    ]
    if len(view.entries) > BOARD_MAX:
        lines.append(f"…and {len(view.entries) - BOARD_MAX} more.")
    if not lines:
        lines = ["No ideas yet."]
    embed = discord.Embed(
        title=clip(f"🏁 {heading(challenge)} — leaderboard", 256),
        description=clip("\n".join(lines), 4096),
        colour=COLOUR,
    )
    if not view.scores_shown:
        embed.set_footer(text="Judges' scores are private until the results are published.")
    elif private:
        embed.set_footer(text="Staff view: judges' scores are not public yet.")
    else:
        embed.set_footer(text=f"Judged on {criteria_text(challenge)}")
    return embed


def detail(view: ChallengeView, *, private: bool = False) -> discord.Embed:
    challenge = view.challenge
    embed = announcement(challenge)
    embed.title = clip(f"🏁 {heading(challenge)} — {PHASE_LABEL[challenge.phase]}", 256)
    board = leaderboard(view, private=private)
    embed.add_field(
        name=f"Ideas ({len(view.entries)})", value=clip(board.description or "", 1024), inline=False
    )
    if challenge.url:
        embed.add_field(name="Announcement", value=challenge.url, inline=False)
    if board.footer.text:
        embed.set_footer(text=board.footer.text)
    return embed


def list_lines(items: Sequence[tuple[Challenge, int]]) -> str:
    if not items:
        return "No challenges yet. Staff start one with `/challenge create`."
    return clip(
        "\n".join(
            f"**#{c.number}** {clip(c.title, 80)} — {PHASE_LABEL[c.phase]} · {n} ideas"
            + (
                f" · ideas until {stamp(c.submission_end, 'f')}"
                if c.phase is Phase.SUBMISSIONS
                else ""
            )
            for c, n in items
        ),
        4000,
    )


def results_text(view: ChallengeView) -> str:
    challenge = view.challenge
    lines = [f"🏆 **Results of {clip(heading(challenge), 200)}**"]
    for entry in view.winners:
        lines.append(
            f"🥇 Winner: **#{entry.number} {clip(entry.title, 100)}** by "
            f"{credit(entry)} — {challenge.winner_points} points"
        )
    finalists = view.finalists
    if finalists:
        lines.append("🏅 Finalists:")
        for entry in finalists:
            mark = " 🃏 the crowd's wildcard" if entry.wildcard else ""
            lines.append(
                f"• **#{entry.number} {clip(entry.title, 100)}** by {credit(entry)}"
                f"{mark} — {challenge.finalist_points} points"
            )
    lines.append("Thank you to everyone who shared, voted and judged! Full scores below.")
    return clip("\n".join(lines), 2000)


def mentor_text(challenge: Challenge, entry: Entry, mentor_id: int, members: Sequence[int]) -> str:
    others = ", ".join(person(m) for m in members if m != mentor_id)
    return clip(
        f"🧭 {person(mentor_id)} mentors idea **#{entry.number} {clip(entry.title, 100)}** for "
        f"**{clip(heading(challenge), 150)}**. Welcome {others}! This thread is private: only "
        "you, the mentor and staff see it.",
        2000,
    )


def mentor_thread_name(challenge: Challenge, entry: Entry) -> str:
    return clip(f"Mentoring #{entry.number} · {entry.title}", 100)


def results_chart(view: ChallengeView) -> bytes | None:
    """The judges' weighted scores of the best scored ideas as a bar chart (winners and
    finalists highlighted); None when no idea was scored. Draws with matplotlib (tens of
    milliseconds): call it off the event loop."""
    scored = [e for e in view.entries if e.score is not None][:CHART_ROWS]
    if not scored:
        return None
    return charts.horizontal_bars(
        clip(f"{heading(view.challenge)}: judges' scores", 80),
        [f"#{e.number} {e.title}" for e in scored],
        [round(e.score or 0.0, 2) for e in scored],
        subtitle=f"Weighted mean over judges, 1–5 · {criteria_text(view.challenge)}",
        highlight={i for i, e in enumerate(scored) if e.stage in (Stage.WINNER, Stage.FINALIST)},
        fallback_labels=[f"#{e.number}" for e in scored],
    )


def scorecards(challenge: Challenge, entry: Entry, cards: Sequence[Scorecard]) -> discord.Embed:
    """Each judge's scores, weighted mean and private note on one idea (staff only)."""
    lines = []
    for card in cards:
        scores = " · ".join(
            f"{c.name} {s}" for c, s in zip(challenge.criteria, card.scores, strict=False)
        )
        mean = judge_score(card.scores, challenge.criteria)
        line = f"{person(card.judge_id)}: {scores} → **{mean:.2f}**"
        if card.note:
            line += f"\n> {clip(card.note, 300)}"
        lines.append(line)
    embed = discord.Embed(
        title=clip(f"Scorecards · #{entry.number} {entry.title}", 256),
        description=clip("\n".join(lines) or "No judge has scored it yet.", 4096),
        colour=COLOUR,
    )
    embed.set_footer(text=f"{heading(challenge)} · private to staff")
    return embed
