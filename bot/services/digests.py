"""Scheduled staff digests: build the report of a period, post each period exactly once.

**Sections.** A digest is a list of sections from providers registered with
:meth:`DigestService.register_section`: an async callable ``(guild_id, period)`` returning
a :class:`~bot.domain.digest_model.DigestSection`, a sequence of them, or None. The ideas
and points sections are built in here; the polls and policy sections (polls closed with
results; policy changes open for comment, awaiting a response) are registered from
:mod:`bot.services.digest_sources` in ``bot/app.py``.

A section's ``metrics`` (e.g. ``{"Polls run": 3}``) join the headline, compared with the
previous period, and its ``participants`` join the active contributors. Exports have
their own registry (:mod:`bot.services.exports`), shared by ``/export`` and the CLI.

**Exactly once.** Each guild has one timer row (``digests.due``, key ``guild:<id>``) due at
its next fire time: the database owns what is due. When it runs, one unit records the
period's run (unique per ``(guild, period_start)``), any older missed periods as skipped,
the publication row that posts it, and the timer re-armed for the next fire time; the
timer service marks the row done in that same commit. A restart before the commit runs it
again (the uniqueness key makes that a no-op); after it, the publication row is retried
until posted, looking first for what a crashed attempt posted.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bot.domain import digest as rules
from bot.domain.digest_model import (
    ChartPoint,
    Digest,
    DigestRun,
    DigestSection,
    IdeaRow,
    Period,
    RunKind,
    RunStatus,
    SpanStats,
)
from bot.domain.guild_config import GuildConfig
from bot.domain.idea_model import ANONYMOUS_AUTHOR
from bot.domain.publishing import Publication
from bot.errors import Conflict, InvalidInput, NotFound
from bot.services._util import domain_errors
from bot.services.guild_settings import GuildSettingsService
from bot.storage import Tx, common
from bot.storage import digests as repo
from bot.storage import timers as timers_repo
from bot.storage.common import to_iso
from bot.storage.database import Database

log = logging.getLogger(__name__)

#: Timer kinds: the guild's next scheduled digest; a run's publication; its draft for
#: annotation; the draft's auto-publish.
DUE = "digests.due"
PUBLISH = "digests.publish"
DRAFT = "digests.draft"
AUTO = "digests.auto"

_KEYS = frozenset(
    {"digest_enabled", "digest_schedule", "digest_channel", "digest_annotate", "timezone"}
)
LIST_LIMIT = 5
NOTE_MAX = 1000

SectionResult = DigestSection | Sequence[DigestSection] | None
SectionProvider = Callable[[int, Period], Awaitable[SectionResult]]
FinishUnit = Callable[[Tx], Any]


def due_key(guild_id: int) -> str:
    return f"guild:{guild_id}"


def run_key(run_id: int) -> str:
    return f"run:{run_id}"


class DigestService:
    """Digests for every guild; one instance per process."""

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
        fires: rules.FireTimes,
        *,
        innovators: Callable[[int], Awaitable[Sequence[Any]]] | None = None,
    ) -> None:
        self._db = db
        self._settings = guild_settings
        self._clock = clock
        self._fires = fires
        self._innovators = innovators
        self._sections: dict[str, SectionProvider] = {
            "ideas": self._ideas_sections,
            "points": self._points_section,
        }
        # The previous period only feeds the headline's changes: no lists, no rates.
        self._headlines: dict[str, SectionProvider] = {
            "ideas": self._ideas_headline,
            "points": _no_section,
        }

    # -- registries ------------------------------------------------------------------------
    def register_section(
        self, name: str, provider: SectionProvider, *, headline: SectionProvider | None = None
    ) -> None:
        """Add a feature's section (after the built-in ones, in registration order).
        ``headline``, when given, is a cheaper provider used for the previous period, whose
        sections only give the headline its comparison (``metrics`` and ``participants``)."""
        self._sections[name] = provider
        if headline is not None:
            self._headlines[name] = headline

    # -- schedules --------------------------------------------------------------------------
    def _schedule(self, config: Mapping[str, Any] | GuildConfig) -> tuple[str, str]:
        """(crontab, timezone); a schedule stored broken (via /config) falls back to weekly."""
        schedule = str(config["digest_schedule"])
        try:
            rules.cron_fields(schedule)
        except rules.ScheduleError:
            log.warning("Unusable digest_schedule %r; using weekly", schedule)
            schedule = rules.DEFAULT_SCHEDULE
        return rules.crontab_of(schedule), str(config["timezone"])

    async def schedule_of(self, guild_id: int) -> tuple[str, str, bool, str]:
        """(crontab, timezone, enabled, label) of a guild."""
        config = await self._settings.get(guild_id)
        crontab, tz = self._schedule(config)
        return (
            crontab,
            tz,
            bool(config["digest_enabled"]),
            rules.schedule_label(str(config["digest_schedule"]), tz),
        )

    def parse_schedule(self, text: str) -> str:
        with domain_errors():
            return rules.normalise_schedule(text)

    def _effective(self, conn: Tx, guild_id: int) -> dict[str, Any]:
        overrides = common.load_guild_overrides(conn, guild_id)
        return {k: overrides.get(k, self._settings.default(k)) for k in _KEYS}

    def _arm(self, conn: Tx, guild_id: int, config: Mapping[str, Any], after: datetime) -> None:
        """(Re-)arm the guild's due timer at its next fire time after ``after`` (or stop it)."""
        if not config["digest_enabled"]:
            timers_repo.cancel_timer(conn, DUE, due_key(guild_id))
            return
        crontab, tz = self._schedule(config)
        fire = self._fires(crontab, tz, after)
        if fire is None:
            timers_repo.cancel_timer(conn, DUE, due_key(guild_id))
            return
        timers_repo.upsert_timer(
            conn, guild_id, DUE, due_key(guild_id), to_iso(fire), {"fire": to_iso(fire)}
        )

    def settings_changed(
        self, conn: Tx, guild_id: int, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        """A change of schedule, timezone or on/off re-arms the due timer in the same unit
        (the caller wakes the timer service after the commit)."""
        if _KEYS.isdisjoint(new) or not any(old.get(k) != new[k] for k in new if k in _KEYS):
            return
        self._arm(conn, guild_id, self._effective(conn, guild_id), self._clock())

    async def ensure_armed(self, guild_ids: Sequence[int]) -> int:
        """At start: arm the due timer of guilds that have none (new guilds). A pending row
        is left alone: it may stand for fire times missed while the bot was down."""
        now = self._clock()

        def unit(conn: Tx) -> int:
            armed = 0
            for guild_id in guild_ids:
                row = timers_repo.get_timer(conn, DUE, due_key(guild_id))
                if row is not None and (row["done_at"] is None or row["last_error"]):
                    continue  # pending, or stopped on purpose (cancelled)
                config = self._effective(conn, guild_id)
                if config["digest_enabled"]:
                    self._arm(conn, guild_id, config, now)
                    armed += 1
            return armed

        return await self._db.write(unit)

    # -- the scheduled run -------------------------------------------------------------------
    async def run_due(self, guild_id: int, payload: Mapping[str, Any]) -> FinishUnit:
        """The due timer fired (or was found due at start): the unit that records the
        period's run and its publication, skips older missed periods and re-arms."""
        now = self._clock()
        armed_for = datetime.fromisoformat(str(payload["fire"]))

        def unit(conn: Tx) -> None:
            config = self._effective(conn, guild_id)
            if not config["digest_enabled"]:
                return
            crontab, tz = self._schedule(config)
            missed = rules.missed_runs(self._fires, crontab, tz, armed_for, now)
            created = to_iso(now)
            for fire in missed.skipped:
                period = rules.period_ending(self._fires, crontab, tz, fire)
                repo.insert_run(
                    conn,
                    guild_id,
                    RunKind.SCHEDULED,
                    to_iso(period.start),
                    to_iso(period.end),
                    RunStatus.SKIPPED,
                    late=True,
                    channel_id=None,
                    actor_id=None,
                    created_at=created,
                )
            period = rules.period_ending(self._fires, crontab, tz, missed.post)
            self._record_run(
                conn, guild_id, RunKind.SCHEDULED, period, late=missed.late, actor_id=None
            )
            self._arm(conn, guild_id, config, now)

        return unit

    def _record_run(
        self,
        conn: Tx,
        guild_id: int,
        kind: RunKind,
        period: Period,
        *,
        late: bool,
        actor_id: int | None,
    ) -> Publication | None:
        """The run and the timer row that publishes (or drafts) it; None when the period
        has a run already."""
        overrides = common.load_guild_overrides(conn, guild_id)

        def get(key: str) -> Any:
            return overrides.get(key, self._settings.default(key))

        channel = int(get("digest_channel") or 0) or int(get("staff_channel") or 0)
        annotate = bool(get("digest_annotate")) and kind is RunKind.SCHEDULED
        status = RunStatus.DRAFT if annotate else RunStatus.PENDING
        if not channel:
            status = RunStatus.NO_CHANNEL
        now = self._clock()
        run_id = repo.insert_run(
            conn,
            guild_id,
            kind,
            to_iso(period.start),
            to_iso(period.end),
            status,
            late=late,
            channel_id=channel or None,
            actor_id=actor_id,
            created_at=to_iso(now),
        )
        if run_id is None or not channel:
            return None
        kind_ = DRAFT if annotate else PUBLISH
        payload = {"run_id": run_id}
        due = to_iso(now)
        timer_id = timers_repo.upsert_timer(conn, guild_id, kind_, run_key(run_id), due, payload)
        if annotate:
            with domain_errors():
                from bot.domain.timeparse import parse_duration

                delay = parse_duration(str(get("digest_publish_delay")))
            timers_repo.upsert_timer(
                conn, guild_id, AUTO, run_key(run_id), to_iso(now + delay), payload
            )
        return Publication(timer_id, guild_id, kind_, run_key(run_id), due, payload)

    async def post_now(self, guild_id: int, actor_id: int) -> tuple[DigestRun, Publication]:
        """An extra digest of the period so far (not the scheduled one): the run and its
        publication, committed; the caller publishes it at once."""
        crontab, tz, _, _ = await self.schedule_of(guild_id)
        period = rules.current_period(self._fires, crontab, tz, self._clock())

        def unit(conn: Tx) -> tuple[DigestRun, Publication] | None:
            publication = self._record_run(
                conn, guild_id, RunKind.EXTRA, period, late=False, actor_id=actor_id
            )
            if publication is None:
                return None
            row = repo.get_run(conn, int(publication.payload["run_id"]))
            assert row is not None
            return _run(row), publication

        result = await self._db.write(unit)
        if result is None:
            raise InvalidInput(
                "There is no channel to post the digest in: set one with "
                "`/digest schedule channel:` or `/config set staff_channel`."
            )
        return result

    # -- annotate before publish --------------------------------------------------------------
    async def get_run(self, run_id: int) -> DigestRun | None:
        row = await self._db.read(lambda c: repo.get_run(c, run_id))
        return None if row is None else _run(row)

    async def history(self, guild_id: int, limit: int = 15) -> list[DigestRun]:
        rows = await self._db.read(lambda c: repo.list_runs(c, guild_id, limit))
        return [_run(r) for r in rows]

    async def release(self, guild_id: int, run_id: int, actor_id: int | None) -> Publication:
        """Publish a draft now (the Publish button, or its auto-publish): one unit moves it
        to publishing, writes its publication and stops the auto-publish."""
        now = to_iso(self._clock())

        def unit(conn: Tx) -> Publication:
            row = repo.get_run(conn, run_id)
            if row is None or int(row["guild_id"]) != guild_id:
                raise NotFound("That digest no longer exists.")
            if not repo.set_status(
                conn, run_id, RunStatus.PUBLISHING, only_from=("draft", "held"), actor_id=actor_id
            ):
                raise Conflict("That digest was published already.")
            timers_repo.cancel_timer(conn, AUTO, run_key(run_id))
            payload = {"run_id": run_id}
            timer_id = timers_repo.upsert_timer(
                conn, guild_id, PUBLISH, run_key(run_id), now, payload
            )
            return Publication(timer_id, guild_id, PUBLISH, run_key(run_id), now, payload)

        return await self._db.write(unit)

    async def auto_publish(self, run_id: int) -> Publication | None:
        """The draft's delay passed: publish it unless held or published meanwhile."""
        run = await self.get_run(run_id)
        if run is None or run.status is not RunStatus.DRAFT:
            return None
        try:
            return await self.release(run.guild_id, run_id, None)
        except Conflict:
            return None

    async def hold(self, guild_id: int, run_id: int, actor_id: int) -> None:
        def unit(conn: Tx) -> bool:
            row = repo.get_run(conn, run_id)
            if row is None or int(row["guild_id"]) != guild_id:
                return False
            if not repo.set_status(
                conn, run_id, RunStatus.HELD, only_from=("draft",), actor_id=actor_id
            ):
                return False
            timers_repo.cancel_timer(conn, AUTO, run_key(run_id))
            return True

        if not await self._db.write(unit):
            raise Conflict("Only a draft waiting to publish itself can be held.")

    async def set_note(self, guild_id: int, run_id: int, note: str, actor_id: int) -> None:
        text = note.strip()
        if not text or len(text) > NOTE_MAX:
            raise InvalidInput(f"A note is 1 to {NOTE_MAX} characters.")

        def unit(conn: Tx) -> bool:
            row = repo.get_run(conn, run_id)
            if row is None or int(row["guild_id"]) != guild_id:
                return False
            return repo.set_note(conn, run_id, text, actor_id)

        if not await self._db.write(unit):
            raise Conflict("Notes can only be added to a draft that is not published yet.")

    def draft_recorder(self, run_id: int, message_id: int) -> FinishUnit:
        return lambda conn: repo.set_draft(conn, run_id, message_id)

    def published_recorder(
        self, run_id: int, channel_id: int, message_ids: Sequence[int]
    ) -> FinishUnit:
        at = to_iso(self._clock())
        ids = list(message_ids)
        return lambda conn: repo.set_published(conn, run_id, channel_id, ids, at)

    # -- building ------------------------------------------------------------------------------
    async def preview(self, guild_id: int) -> Digest:
        """The period so far (``/digest preview``): nothing is recorded."""
        crontab, tz, _, _ = await self.schedule_of(guild_id)
        period = rules.current_period(self._fires, crontab, tz, self._clock())
        return await self.build(guild_id, period, extra=True)

    async def build_run(self, run: DigestRun) -> Digest:
        return await self.build(
            run.guild_id,
            run.period,
            late=run.late,
            extra=run.kind is RunKind.EXTRA,
            note=run.note,
        )

    async def build(
        self,
        guild_id: int,
        period: Period,
        *,
        late: bool = False,
        extra: bool = False,
        note: str | None = None,
    ) -> Digest:
        """Every section of ``period``, the headline against the period before, the chart."""
        config = await self._settings.get(guild_id)
        crontab, tz = self._schedule(config)
        periods = rules.previous_periods(self._fires, crontab, tz, period, rules.CHART_PERIODS)
        previous = (
            periods[-2]
            if len(periods) > 1
            else Period(period.start - (period.end - period.start), period.start)
        )
        # The chart's twelve periods of counts are read on the report connection while the
        # sections read on the reader (two threads, two cores: SQLite runs without the
        # GIL). Its last two periods are this one and the previous, whose counts the
        # ideas' section and headline read first: the chart, reaching them last, takes
        # them from ``known`` instead of reading them again.
        known: dict[tuple[int, str, str], tuple[dict[str, int], int]] = {}
        token = _KNOWN_COUNTS.set(known)
        try:
            chart, current_parts, previous_parts = await asyncio.gather(
                self._db.report(lambda c: _chart(c, guild_id, periods, config.timezone, known)),
                self._collect(guild_id, period),
                self._collect(guild_id, previous, headline=True),
            )
        finally:
            _KNOWN_COUNTS.reset(token)
        headline = _headline(current_parts, previous_parts)
        return Digest(
            guild_id,
            period,
            rules.schedule_label(str(config["digest_schedule"]), tz),
            (headline, *current_parts),
            chart=tuple(chart),
            note=note,
            late=late,
            extra=extra,
            timezone=tz,
        )

    async def _collect(
        self, guild_id: int, period: Period, *, headline: bool = False
    ) -> list[DigestSection]:
        # The sections read at the same time (their reads queue on the reader while the
        # ideas' trailing year and the chart read on the report connection), and come out
        # in registration order. One failing section is logged and left out.
        async def one(name: str, provider: SectionProvider) -> Any:
            try:
                return await provider(guild_id, period)
            except Exception:
                log.exception("Digest section %s failed for guild %s", name, guild_id)
                return None

        providers = [
            (name, self._headlines.get(name, provider) if headline else provider)
            for name, provider in self._sections.items()
        ]
        results = await asyncio.gather(*(one(name, provider) for name, provider in providers))
        out: list[DigestSection] = []
        for result in results:
            if result is not None:
                out.extend([result] if isinstance(result, DigestSection) else result)
        return out

    async def _ideas_sections(self, guild_id: int, period: Period) -> list[DigestSection]:
        config = await self._settings.get(guild_id)
        target = config.duration("ideas_response_target")
        now = min(self._clock(), period.end)
        start, end = to_iso(period.start), to_iso(period.end)
        year_start = to_iso(period.end - rules.TRAILING)
        target_days = target.total_seconds() / 86400.0
        due = to_iso(period.end - target)

        known = _KNOWN_COUNTS.get()

        def read(conn: Tx) -> dict[str, Any]:
            decisions = repo.decisions(conn, guild_id, start, end)
            implemented = [int(r[3]) for r in decisions if r[0] == "implemented"]
            new, votes = period_counts(conn, guild_id, start, end, known)
            return {
                "new": new,
                "votes": votes,
                "who": repo.participants(conn, guild_id, start, end),
                "top": repo.top_new_ideas(conn, guild_id, start, end, LIST_LIMIT),
                "movers": repo.vote_gains(conn, guild_id, start, end, LIST_LIMIT),
                "decisions": decisions,
                "overdue": repo.overdue(conn, guild_id, to_iso(now - target), LIST_LIMIT),
                # Medians and rates are computed in SQL (indexed): a year of ideas is
                # never read into Python, and the loop never waits on that work.
                "stats": repo.span_stats(
                    conn, guild_id, start, end, target_days=target_days, due=due
                ),
                "credits": repo.contributors_of(conn, implemented, guild_id),
            }

        def read_year(conn: Tx) -> dict[str, Any]:
            return {
                "year_stats": repo.span_stats(
                    conn,
                    guild_id,
                    year_start,
                    end,
                    target_days=target_days,
                    due=due,
                    trailing=True,
                ),
                "year_implemented": repo.implemented_count(conn, guild_id, year_start, end),
            }

        # The trailing year (the largest read) runs on the report connection, beside the
        # period's reads on the reader.
        period_data, year_data = await asyncio.gather(
            self._db.read(read), self._db.report(read_year)
        )
        return ideas_sections({**period_data, **year_data}, target)

    async def _ideas_headline(self, guild_id: int, period: Period) -> DigestSection:
        """The previous period's numbers the headline compares with (three counts)."""
        start, end = to_iso(period.start), to_iso(period.end)
        known = _KNOWN_COUNTS.get()

        def read(conn: Tx) -> DigestSection:
            new, votes = period_counts(conn, guild_id, start, end, known)
            return DigestSection(
                "ideas.top",
                "",
                (),
                metrics={
                    "New ideas": sum(n for s, n in new.items() if s != "hidden"),
                    "Votes": votes,
                },
                participants=frozenset(repo.participants(conn, guild_id, start, end)),
            )

        return await self._db.read(read)

    async def _points_section(self, guild_id: int, period: Period) -> DigestSection | None:
        start, end = to_iso(period.start), to_iso(period.end)
        top = await self._db.read(lambda c: repo.top_points(c, guild_id, start, end, LIST_LIMIT))
        lines = [f"{i}. <@{member}> — **{pts:,}** pts" for i, (member, pts) in enumerate(top, 1)]
        if self._innovators is not None:
            innovators = list(await self._innovators(guild_id))[:LIST_LIMIT]
            if innovators:
                lines.append("**Innovators** (ideas that became real, last 12 months)")
                lines.extend(
                    f"• <@{s.member_id}> — {s.implemented} implemented, {s.planned} planned"
                    for s in innovators
                )
        return DigestSection(
            "points",
            "🏅 Top contributors",
            tuple(lines) or ("No points earned this period.",),
            more="`/points leaderboard period:week`",
        )


# -- pure helpers over what the reads return ------------------------------------------------
async def _no_section(guild_id: int, period: Period) -> None:
    return None


def _idea_row(row: Any, gained: int = 0) -> IdeaRow:
    return IdeaRow(int(row[0]), str(row[1]), int(row[2]), str(row[3]), int(row[4]), gained=gained)


def _mention(member_id: int) -> str:
    if member_id == ANONYMOUS_AUTHOR:
        return "a member"
    return f"<@{member_id}>" if member_id else "a former member"


def ideas_sections(data: Mapping[str, Any], target: timedelta) -> list[DigestSection]:
    """The ideas' sections from one read's results (pure: tested on fixtures)."""
    new_by_status: dict[str, int] = data["new"]
    new_total = sum(n for s, n in new_by_status.items() if s != "hidden")
    sections: list[DigestSection] = []
    metrics = {"New ideas": new_total, "Votes": int(data["votes"])}
    top = [_idea_row(r) for r in data["top"]]
    lines = [f"**#{i.number}** {i.title} — {i.support} 👍 ({_mention(i.author_id)})" for i in top]
    sections.append(
        DigestSection(
            "ideas.top",
            "💡 Top new ideas",
            tuple(lines) or ("No new ideas this period.",),
            metrics=metrics,
            participants=frozenset(data["who"]),
            more="`/idea list sort:top`" if new_total > len(top) else None,
        )
    )
    movers = rules.movers((int(r[0]), int(r[5])) for r in data["movers"])
    titles = {int(r[0]): str(r[1]) for r in data["movers"]}
    if movers:
        sections.append(
            DigestSection(
                "ideas.movers",
                "📈 Biggest movers",
                tuple(f"**#{n}** {titles[n]} — +{g} votes" for n, g in movers),
                more="`/idea list sort:trending`",
            )
        )
    decisions = list(data["decisions"])
    if decisions:
        icons = {"planned": "🗓️", "implemented": "✅", "declined": "❌"}
        lines = []
        for status, reason, _at, number, title, *_ in decisions:
            line = f"{icons.get(status, '•')} **#{number}** {title} → {status}"
            if reason and status == "declined":
                line += f" — _{reason}_"
            lines.append(line)
        sections.append(DigestSection("ideas.decisions", "⚖️ Decisions made", tuple(lines)))
    total, overdue_rows = data["overdue"]
    if total:
        lines = [f"**#{r[0]}** {r[1]} — since {str(r[5])[:10]}" for r in overdue_rows]
        sections.append(
            DigestSection(
                "ideas.overdue",
                f"⏰ Overdue ideas ({total}, oldest first)",
                tuple(lines),
                more="`/idea overdue`" if total > len(overdue_rows) else None,
            )
        )
    period: SpanStats = data["stats"]
    year: SpanStats = data["year_stats"]
    impl = rules.implementation_rate(int(data["year_implemented"]), year.submitted)
    sections.append(
        DigestSection(
            "ideas.rates",
            "📊 Responsiveness",
            (
                f"Implementation rate (12 months): **{rules.format_rate(impl)}**",
                f"Response rate within {_target(target)}: period "
                f"**{rules.format_rate(rules.rate(period.answered, period.counted))}**, "
                f"12 months **{rules.format_rate(rules.rate(year.answered, year.counted))}**",
                "Median time to first response: period "
                f"**{rules.format_span(period.median_response)}**, "
                f"12 months **{rules.format_span(year.median_response)}**",
                "Median time to decision: period "
                f"**{rules.format_span(period.median_decision)}**, "
                f"12 months **{rules.format_span(year.median_decision)}**",
            ),
        )
    )
    shipped = [d for d in decisions if d[0] == "implemented"]
    if shipped:
        credits: Mapping[int, list[int]] = data["credits"]
        lines = []
        for _s, _r, _at, number, title, author, *_ in shipped:
            people = [_mention(int(author))] + [
                _mention(m) for m in credits.get(int(number), []) if m != author
            ]
            lines.append(f"**#{number}** {title} — thanks to {', '.join(people)}")
        sections.append(
            DigestSection(
                "ideas.shipped",
                "🚀 You said, we did",
                tuple(lines),
                more="`/idea list status:implemented`",
            )
        )
    return sections


def _target(target: timedelta) -> str:
    from bot.domain.timeparse import format_duration

    return format_duration(target)


def _headline(current: Sequence[DigestSection], previous: Sequence[DigestSection]) -> DigestSection:
    def totals(parts: Sequence[DigestSection]) -> tuple[dict[str, int], set[int]]:
        numbers: dict[str, int] = {}
        who: set[int] = set()
        for part in parts:
            for name, value in part.metrics.items():
                numbers[name] = numbers.get(name, 0) + int(value)
            who |= part.participants
        return numbers, who

    now, now_who = totals(current)
    before, before_who = totals(previous)
    now["Active contributors"] = len(now_who)
    before["Active contributors"] = len(before_who)
    lines = tuple(
        f"{name}: **{rules.change(value, before.get(name, 0))}**" for name, value in now.items()
    )
    return DigestSection(
        "headline", "📌 Headline (change from the previous period)", lines, metrics=now
    )


#: Within one build: (guild, start, end) → (new ideas by status, votes), read once and
#: shared by the sections and the chart (on two connections: a dict's get and set are
#: atomic; a count both read in a race differs at most by what committed in between, as
#: the trailing year read beside them may). A context variable: each build (and the
#: section tasks it gathers) sees its own.
_KNOWN_COUNTS: contextvars.ContextVar[
    dict[tuple[int, str, str], tuple[dict[str, int], int]] | None
] = contextvars.ContextVar("digest_known_counts", default=None)


def period_counts(
    conn: Tx,
    guild_id: int,
    start: str,
    end: str,
    known: dict[tuple[int, str, str], tuple[dict[str, int], int]] | None,
) -> tuple[dict[str, int], int]:
    """New ideas by status and new votes of ``[start, end)``, read once per build."""
    key = (guild_id, start, end)
    if known is not None and key in known:
        return known[key]
    counts = (
        repo.new_ideas(conn, guild_id, start, end),
        repo.new_votes(conn, guild_id, start, end),
    )
    if known is not None:
        known[key] = counts
    return counts


def _chart(
    conn: Tx,
    guild_id: int,
    periods: Sequence[Period],
    zone: Any,
    known: dict[tuple[int, str, str], tuple[dict[str, int], int]] | None = None,
) -> list[ChartPoint]:
    out = []
    for period in periods:
        start, end = to_iso(period.start), to_iso(period.end)
        by_status, votes = period_counts(conn, guild_id, start, end, known)
        activity = sum(by_status.values()) + votes
        label = period.end.astimezone(zone).strftime("%-d %b")
        out.append(ChartPoint(label, activity, by_status))
    return out


def _run(row: Any) -> DigestRun:
    return DigestRun(
        id=int(row["id"]),
        guild_id=int(row["guild_id"]),
        kind=RunKind(row["kind"]),
        period=Period(
            datetime.fromisoformat(row["period_start"]), datetime.fromisoformat(row["period_end"])
        ),
        status=RunStatus(row["status"]),
        late=bool(row["late"]),
        note=row["note"],
        channel_id=row["channel_id"],
        draft_message_id=row["draft_message_id"],
        message_ids=tuple(orjson.loads(row["message_ids"])),
        created_at=datetime.fromisoformat(row["created_at"]),
        published_at=None
        if row["published_at"] is None
        else datetime.fromisoformat(row["published_at"]),
        actor_id=row["actor_id"],
    )


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


__all__ = [
    "AUTO",
    "DRAFT",
    "DUE",
    "PUBLISH",
    "DigestService",
    "GuildConfig",
    "ideas_sections",
]
