"""How polls and surveys look in Discord: the poll message, results, confirmations and
survey prompts (text and embeds), and their charts (PNG bytes, drawn in a worker thread
by the caller through :mod:`bot.render.charts`)."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.poll_model import (
    BallotResult,
    Poll,
    PollKind,
    PollMode,
    Results,
    SurveyProgress,
)
from bot.domain.polls import percent, round_half_up
from bot.render import charts
from bot.render.ideas import clip, stamp

MODE_TEXT = {
    PollMode.SINGLE: "pick one",
    PollMode.MULTI: "pick up to {n}",
    PollMode.RANKED: "rank your choices (instant run-off)",
}
RATING_WORDS = {1: "1 · not at all", 2: "2", 3: "3", 4: "4", 5: "5 · very"}


def title_prefix(poll: Poll) -> str:
    """How every poll message's embed title starts (a retry finds a crashed post by it)."""
    return f"{'Survey' if poll.kind is PollKind.SURVEY else 'Poll'} #{poll.id} · "


def results_prefix(poll: Poll) -> str:
    return f"Results · {title_prefix(poll)}"


def option_lines(poll: Poll, counts: Sequence[int] | None = None, ballots: int = 0) -> str:
    lines = []
    for i, text in enumerate(poll.options):
        line = f"**{i + 1}.** {text}"
        if counts is not None:
            line += f" — {counts[i]} ({percent(counts[i], ballots)})"
        lines.append(line)
    return clip("\n".join(lines), 4000)


def how_text(poll: Poll) -> str:
    if poll.kind is PollKind.SURVEY:
        return "rate how important each outcome is and how satisfied you are today (1–5)"
    return MODE_TEXT[poll.mode].format(n=poll.max_picks)


def poll_embed(poll: Poll, live: Results | None = None) -> discord.Embed:
    """The poll's message: question, options (with counts when results are live)."""
    colour = discord.Colour.blurple() if poll.is_open else discord.Colour.dark_grey()
    embed = discord.Embed(title=clip(title_prefix(poll) + poll.question, 256), colour=colour)
    tally = live.tally if live is not None else None
    if poll.kind is PollKind.SURVEY:
        embed.description = clip(
            "\n".join(f"**{i + 1}.** {o}" for i, o in enumerate(poll.options)), 4000
        )
    elif tally is not None and not (poll.is_open and (poll.hide_results or poll.anonymous)):
        embed.description = option_lines(poll, tally.counts, tally.ballots)
    else:
        embed.description = option_lines(poll)
    facts = [how_text(poll).capitalize()]
    if poll.anonymous:
        facts.append("anonymous: no one can see who voted what")
    if (poll.hide_results or poll.anonymous) and poll.is_open and poll.kind is PollKind.POLL:
        facts.append("results when it closes")
    if poll.eligible_role_id:
        facts.append(f"for <@&{poll.eligible_role_id}>")
    embed.add_field(name="How", value=clip("; ".join(facts), 1024), inline=False)
    when = (
        f"Closes {stamp(poll.closes_at)} ({stamp(poll.closes_at, 'f')})"
        if poll.is_open
        else f"Closed {stamp(poll.closed_at or poll.closes_at, 'f')}"
    )
    embed.add_field(name="When", value=when, inline=False)
    embed.set_footer(
        text=f"{poll.ballots} {'response' if poll.kind is PollKind.SURVEY else 'ballot'}(s)"
    )
    return embed


def ballot_text(result: BallotResult) -> str:
    """The ephemeral confirmation: exactly what was recorded."""
    picked = [f"**{result.options[i]}**" for i in result.choices]
    if result.mode is PollMode.RANKED:
        what = ", ".join(f"{n}. {p}" for n, p in enumerate(picked, start=1))
        head = "Your ranking"
    else:
        what = ", ".join(picked)
        head = "Your vote"
    verb = (
        "changed to" if result.changed else ("is unchanged:" if result.previous else "is recorded:")
    )
    text = f"{head} in poll #{result.poll_id} {verb} {what}."
    if result.anonymous:
        text += " The poll is anonymous: no one can see your choice."
    text += " You can change it until the poll closes."
    return clip(text, 2000)


def survey_prompt(progress: SurveyProgress, index: int) -> str:
    poll = progress.poll
    imp, sat = progress.ratings[index]
    done = sum(1 for i, s in progress.ratings if i and s)
    return clip(
        f"**Survey #{poll.id}** · outcome {index + 1} of {len(poll.options)} "
        f"({done} rated)\n> {poll.options[index]}\n"
        f"How **important** is this to you? {f'**{imp}**' if imp else '—'} · "
        f"How **satisfied** are you today? {f'**{sat}**' if sat else '—'}",
        2000,
    )


def survey_done_text(progress: SurveyProgress) -> str:
    return (
        f"Thank you! Your answers to survey #{progress.poll.id} are recorded; you can change "
        "any rating until it closes."
    )


def poll_line(poll: Poll) -> str:
    kind = "Survey" if poll.kind is PollKind.SURVEY else "Poll"
    link = f" · [open]({poll.message_url})" if poll.message_url else ""
    return clip(
        f"**{kind} #{poll.id}** {poll.question} · closes {stamp(poll.closes_at)} · "
        f"{poll.ballots} so far{link}",
        300,
    )


def list_embed(polls: Sequence[Poll]) -> discord.Embed:
    return discord.Embed(
        title="Open polls and surveys",
        description=clip("\n".join(poll_line(p) for p in polls[:25]), 4000)
        or "None open right now.",
    )


def results_embed(results: Results) -> discord.Embed:
    """The results: counts and percentages, the run-off's rounds, or the survey table."""
    poll = results.poll
    embed = discord.Embed(
        title=clip(results_prefix(poll) + poll.question, 256), colour=discord.Colour.green()
    )
    lines: list[str] = []
    if results.tally is not None:
        tally = results.tally
        lines.append(option_lines(poll, tally.counts, tally.ballots))
        winners = tally.winners
        if winners:
            names = " and ".join(f"**{poll.options[w]}**" for w in winners)
            lines.append(("Tie: " if len(winners) > 1 else "Winner: ") + names)
        footer = f"{tally.ballots} ballot(s)"
    elif results.runoff is not None:
        runoff = results.runoff
        lines.append(option_lines(poll, runoff.first_preferences, runoff.ballots))
        lines.append("*First preferences above; instant run-off rounds:*")
        for n, rnd in enumerate(runoff.rounds, start=1):
            counts = ", ".join(f"{poll.options[o]} {c}" for o, c in rnd.counts.items())
            out = f" — out: {poll.options[rnd.eliminated]}" if rnd.eliminated is not None else ""
            exhausted = f" · {rnd.exhausted} exhausted" if rnd.exhausted else ""
            lines.append(f"Round {n}: {counts}{exhausted}{out}")
        if runoff.winner is not None:
            lines.append(f"Winner: **{poll.options[runoff.winner]}**")
        footer = f"{runoff.ballots} ballot(s), {runoff.exhausted} exhausted at the end"
    else:
        survey = results.survey
        assert survey is not None
        footer = f"{survey.responses} complete response(s)"
        if results.withheld:
            lines.append(
                f"Results are shown once {results.minimum} members have completed the survey; "
                f"{survey.responses} have so far."
            )
        else:
            lines.append("Opportunity = importance + max(importance − satisfaction, 0), 0–20:")
            for rank, o in enumerate(survey.ranked(), start=1):
                lines.append(
                    f"{rank}. **{round_half_up(o.opportunity)}** ({o.band.value}) · "
                    f"I {round_half_up(o.importance)} · S {round_half_up(o.satisfaction)} · "
                    f"#{o.index + 1} {poll.options[o.index]}"
                )
    if poll.closed_late:
        lines.append(
            f"*Closed late: the bot was offline when the poll was due to close "
            f"({stamp(poll.closes_at, 'f')}); ballots cast until then were counted.*"
        )
    embed.description = clip("\n".join(lines), 4000)
    state = "final" if not poll.is_open else "so far"
    embed.set_footer(text=f"{footer} · {state}")
    return embed


def results_chart(results: Results) -> bytes | None:
    """The chart for ``results`` (PNG), or None when there is nothing to draw. Slow
    (matplotlib): call it in a worker thread."""
    poll = results.poll
    numbers = [f"{i + 1}." for i in range(len(poll.options))]
    if results.tally is not None:
        return charts.horizontal_bars(
            poll.question,
            [f"{i + 1}. {o}" for i, o in enumerate(poll.options)],
            list(results.tally.counts),
            subtitle=f"{results.tally.ballots} ballot(s)",
            highlight=set(results.tally.winners),
            fallback_labels=numbers,
        )
    if results.runoff is not None:
        runoff = results.runoff
        final = runoff.rounds[-1].counts if runoff.rounds else {}
        counts = [final.get(i, 0) for i in range(len(poll.options))]
        return charts.horizontal_bars(
            poll.question,
            [f"{i + 1}. {o}" for i, o in enumerate(poll.options)],
            counts,
            subtitle=f"Final run-off round · {runoff.ballots} ballot(s)",
            highlight={runoff.winner} if runoff.winner is not None else None,
            fallback_labels=numbers,
        )
    if results.survey is not None and not results.withheld:
        survey = results.survey
        return charts.opportunity_scatter(
            poll.question,
            [o.importance for o in survey.outcomes],
            [o.satisfaction for o in survey.outcomes],
            subtitle=f"{survey.responses} responses · points numbered as the outcomes",
        )
    return None


def idea_thread_text(results: Results, index: int) -> str:
    """What a poll over ideas posts in the thread of the idea behind option ``index``."""
    poll = results.poll
    if results.runoff is not None:
        won = results.runoff.winner == index
        detail = f"{results.runoff.first_preferences[index]} first preference(s)"
    else:
        assert results.tally is not None
        won = index in results.tally.winners
        detail = f"{results.tally.counts[index]} of {results.tally.ballots} vote(s)"
    head = "🏆 This idea won" if won else "This idea was in"
    return clip(f"{head} poll #{poll.id} “{poll.question}”: {detail}.", 2000)


def reminder_text(poll: Poll) -> str:
    kind = "Survey" if poll.kind is PollKind.SURVEY else "Poll"
    where = f": {poll.message_url}" if poll.message_url else ""
    return clip(
        f"⏰ {kind} #{poll.id} “{poll.question}” closes {stamp(poll.closes_at)}{where}", 2000
    )
