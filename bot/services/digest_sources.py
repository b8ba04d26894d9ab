"""The polls' and policies' part of digests and exports: the digest sections (polls and
surveys closed in the period with their results; policy changes open for comment with
their deadlines, and those awaiting a staff response) and the export sources (polls,
ballots — anonymous ones without any voter column — policies, stances, concerns).

Registered in ``bot/app.py`` with :func:`register`; the registries are
:meth:`DigestService.register_section` and :meth:`ExportService.register`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

from bot.domain.digest_model import DigestSection, Period
from bot.domain.policy_model import Policy
from bot.domain.poll_model import Poll, PollKind, Results
from bot.services.digests import LIST_LIMIT, DigestService
from bot.services.exports import CHUNK, ExportService
from bot.services.polls import PollService
from bot.storage import Tx
from bot.storage import digest_sources as repo
from bot.storage.common import to_iso
from bot.storage.database import Database

#: Exports whose rows name no member whatever their provider yields (see ExportService).
ANONYMOUS_EXPORTS = frozenset({"poll_ballots_anonymous"})
OPEN_STAGES = ("announced",)
#: Comments closed, no staff response yet (``awaiting``: its effective date passed too).
AWAITING_STAGES = ("closed",)


def register(
    digests: DigestService, exports: ExportService, db: Database, polls: PollService
) -> None:
    """Add the polls and policy sections to digests and their sources to exports."""
    polls_part = PollsDigest(db, polls)
    policy_part = PolicyDigest(db)
    digests.register_section("polls", polls_part.section, headline=polls_part.headline)
    digests.register_section("policy", policy_part.section, headline=policy_part.headline)
    for name in repo.EXPORTS:
        exports.register(
            name,
            partial(export_rows, db, name),
            anonymous=name in ANONYMOUS_EXPORTS,
            count=partial(export_count, db, name),
            columns=repo.export_columns(name),
        )


def _span(period: Period) -> tuple[str, str]:
    return to_iso(period.start), to_iso(period.end)


# -- polls -----------------------------------------------------------------------------------
class PollsDigest:
    """Polls and surveys closed in the period, with their results."""

    def __init__(self, db: Database, polls: PollService) -> None:
        self._db = db
        self._polls = polls

    async def _read(self, guild_id: int, period: Period) -> tuple[list[Poll], set[int]]:
        start, end = _span(period)

        def read(conn: Tx) -> tuple[list[Poll], set[int]]:
            return (
                repo.polls_closed(conn, guild_id, start, end),
                repo.poll_participants(conn, guild_id, start, end),
            )

        return await self._db.read(read)

    async def headline(self, guild_id: int, period: Period) -> DigestSection:
        closed, who = await self._read(guild_id, period)
        return DigestSection(
            "polls", "", metrics={"Polls run": len(closed)}, participants=frozenset(who)
        )

    async def section(self, guild_id: int, period: Period) -> DigestSection:
        closed, who = await self._read(guild_id, period)
        shown = closed[:LIST_LIMIT]
        lines = [result_line(await self._polls.count(poll)) for poll in shown]
        return DigestSection(
            "polls",
            "🗳️ Polls and surveys closed",
            tuple(lines) or ("No polls or surveys closed this period.",),
            metrics={"Polls run": len(closed)},
            participants=frozenset(who),
            more="`/poll results`" if len(closed) > len(shown) else None,
        )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "0%"


def result_line(results: Results) -> str:
    """One closed poll's outcome as the digest lists it (pure: tested on known results)."""
    poll = results.poll
    kind = "Survey" if poll.kind is PollKind.SURVEY else "Poll"
    head = f"**{kind} #{poll.id}** {poll.question}"
    if poll.anonymous:
        head += " _(anonymous)_"
    if results.survey is not None:
        survey = results.survey
        if results.withheld:
            return (
                f"{head} — {_n(survey.responses, 'response')}: results withheld "
                f"(fewer than {results.minimum})"
            )
        ranked = survey.ranked()
        if not ranked:
            return f"{head} — no responses"
        top = ranked[0]
        return (
            f"{head} — top opportunity: **{poll.options[top.index]}** "
            f"({top.opportunity:.1f}, {top.band.value}) · {_n(survey.responses, 'response')}"
        )
    if results.runoff is not None:
        runoff = results.runoff
        if runoff.winner is None:
            return f"{head} — no winner · {_n(runoff.ballots, 'ballot')}"
        return (
            f"{head} — **{poll.options[runoff.winner]}** wins after "
            f"{_n(len(runoff.rounds), 'round')} · {_n(runoff.ballots, 'ballot')}"
        )
    tally = results.tally
    if tally is None or not tally.winners:
        return f"{head} — no votes"
    top_count = tally.counts[tally.winners[0]]
    names = " / ".join(f"**{poll.options[i]}**" for i in tally.winners)
    label = "tie: " if len(tally.winners) > 1 else ""
    return (
        f"{head} — {label}{names} {top_count} of {tally.ballots} ballots "
        f"({_pct(top_count, tally.ballots)})"
    )


# -- policy ----------------------------------------------------------------------------------
class PolicyDigest:
    """Policy changes open for comment (with their deadlines) and awaiting a response."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def headline(self, guild_id: int, period: Period) -> DigestSection:
        start, end = _span(period)

        def read(conn: Tx) -> DigestSection:
            return DigestSection(
                "policy",
                "",
                metrics={"Policy feedback": repo.policy_feedback_count(conn, guild_id, start, end)},
                participants=frozenset(repo.policy_participants(conn, guild_id, start, end)),
            )

        return await self._db.read(read)

    async def section(self, guild_id: int, period: Period) -> list[DigestSection]:
        start, end = _span(period)

        def read(conn: Tx) -> tuple[list[Policy], list[Policy], int, set[int]]:
            return (
                repo.policies_in_stages(conn, guild_id, OPEN_STAGES),
                repo.policies_in_stages(conn, guild_id, AWAITING_STAGES),
                repo.policy_feedback_count(conn, guild_id, start, end),
                repo.policy_participants(conn, guild_id, start, end),
            )

        open_, awaiting, feedback, who = await self._db.read(read)
        return policy_sections(open_, awaiting, feedback, frozenset(who))


def _when(policy_time: Any, style: str = "f") -> str:
    return "—" if policy_time is None else f"<t:{int(policy_time.timestamp())}:{style}>"


def _stances(policy: Policy) -> str:
    return (
        f"👍 {policy.support} · 🤔 {policy.concerned} · 👎 {policy.oppose} · "
        f"{_n(policy.concerns, 'concern')}"
    )


def policy_sections(
    open_: Sequence[Policy], awaiting: Sequence[Policy], feedback: int, who: frozenset[int]
) -> list[DigestSection]:
    """The policy sections (pure: tested on known policies). The first always carries the
    metrics and participants, so the headline counts them even when nothing is listed."""
    shown = list(open_[:LIST_LIMIT])
    lines = [
        f"**Policy #{p.number}** {p.title} — comments close {_when(p.close_at)} "
        f"({_when(p.close_at, 'R')}) · {_stances(p)}"
        for p in shown
    ]
    sections = [
        DigestSection(
            "policy.open",
            "📜 Policy changes open for comment",
            tuple(lines) or ("No policy change is open for comment.",),
            metrics={"Policy feedback": feedback},
            participants=who,
            more="`/policy list`" if len(open_) > len(shown) else None,
        )
    ]
    if awaiting:
        waiting = list(awaiting[:LIST_LIMIT])
        lines = []
        for p in waiting:
            line = (
                f"**Policy #{p.number}** {p.title} — comments closed {_when(p.closed_at, 'd')}, "
                f"{_stances(p)}; takes effect {_when(p.effective_at, 'd')}"
            )
            if p.awaiting:
                line = "⚠️ " + line + " — **effective date passed**"
            lines.append(line)
        sections.append(
            DigestSection(
                "policy.awaiting",
                "⏳ Awaiting a staff response",
                tuple(lines),
                more="`/policy list`" if len(awaiting) > len(waiting) else None,
            )
        )
    return sections


# -- exports ---------------------------------------------------------------------------------
async def export_count(db: Database, name: str, guild_id: int) -> int:
    return await db.read(lambda conn: repo.export_count(conn, name, guild_id))


async def export_rows(
    db: Database, name: str, guild_id: int, *, chunk: int = CHUNK
) -> AsyncIterator[dict[str, Any]]:
    """An export's rows in key order, one chunk per read (the reader is never held long)."""
    after: Any = None
    while True:
        rows, after = await db.read(
            partial(repo.export_chunk, name=name, guild_id=guild_id, after=after, limit=chunk)
        )
        for row in rows:
            yield row
        if len(rows) < chunk:
            return
