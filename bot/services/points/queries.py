"""What members stand at: totals, ranks, ledgers, leaderboards, innovators and the reward
roles their totals call for; and the writes that reset standings (a new season, a
forgotten member).

Reads run on the reader connection. Filters that may consult Discord's member cache
(``exclude``, ``held_roles``) run here on the event loop, never inside a database hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Container, Iterable
from datetime import datetime, timedelta

from bot.domain import points as rules_mod
from bot.domain.points import INNOVATOR_WINDOW, InnovatorScore, Period
from bot.domain.points_model import (
    LeaderboardPage,
    LedgerEntry,
    MemberPoints,
    RoleChange,
    SeasonStart,
)
from bot.errors import Conflict
from bot.services._util import clamp_page, domain_errors
from bot.services.points.rules import RulesCache
from bot.storage import Tx, common
from bot.storage import points as repo
from bot.storage.database import Database
from bot.storage.points import ts

#: A second season start within this long is taken for a double click.
SEASON_GUARD = timedelta(minutes=1)

#: Rows [start, start + count) of a ranking, as (member id, points).
Fetch = Callable[[Tx, int, int], list[tuple[int, int]]]


def _window(fetch: Fetch, start: int, count: int) -> Callable[[Tx], list[tuple[int, int]]]:
    return lambda tx: fetch(tx, start, count)


class PointsQueries:
    """Standings and the writes that reset them (see the module docstring)."""

    def __init__(self, db: Database, rules: RulesCache, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._rules = rules
        self._clock = clock

    # -- members ---------------------------------------------------------------------------
    async def show(
        self,
        guild_id: int,
        member_id: int,
        *,
        recent: int = 5,
        exclude: Container[int] | None = None,
        viewer_id: int | None = None,
    ) -> MemberPoints:
        """A member's totals, rank and latest entries. The rank counts the members with
        more points, leaving out those in ``exclude`` (who left, staff) as leaderboards do.
        Entries an anonymous idea paid its author are listed only to that member
        (``viewer_id``): to anyone else they would name the author.
        """

        def read(tx: Tx) -> tuple[MemberPoints, list[int]]:
            all_time, season = repo.member_totals(tx, guild_id, member_id)
            above: list[int] = []
            rank = None
            if all_time > 0:
                if exclude is None:
                    rank = repo.rank_of(tx, guild_id, all_time)
                else:
                    above = repo.members_above(tx, guild_id, all_time)
            entries = repo.recent_entries(
                tx, guild_id, member_id, recent, hide_anonymous=viewer_id != member_id
            )
            season_no, _ = repo.current_season(tx, guild_id)
            card = MemberPoints(member_id, all_time, season, season_no, rank, entries)
            return card, above

        card, above = await self._db.read(read)
        if exclude is not None and card.all_time > 0:
            # Filtered here, on the loop: ``exclude`` may look at Discord's member cache.
            rank = 1 + sum(1 for m in above if m not in exclude)
            card = MemberPoints(
                card.member_id, card.all_time, card.season, card.season_no, rank, card.recent
            )
        return card

    async def history(
        self, guild_id: int, member_id: int, *, limit: int = 20, viewer_id: int | None = None
    ) -> list[LedgerEntry]:
        """A member's latest ledger entries, newest first (moderators); entries an
        anonymous idea paid its author only when the viewer is that member."""
        hide = viewer_id != member_id
        return await self._db.read(
            lambda tx: repo.recent_entries(tx, guild_id, member_id, limit, hide_anonymous=hide)
        )

    async def totals(self, guild_id: int, member_id: int) -> tuple[int, int]:
        """(all-time, season) points of one member."""
        return await self._db.read(lambda tx: repo.member_totals(tx, guild_id, member_id))

    # -- leaderboards ----------------------------------------------------------------------
    async def leaderboard(
        self,
        guild_id: int,
        period: Period = Period.ALL,
        family: str | None = None,
        *,
        page: int = 0,
        per_page: int = 10,
        exclude: Container[int] = frozenset(),
    ) -> LeaderboardPage:
        """One page of a leaderboard; members in ``exclude`` (left, staff) are skipped.

        All-time and season boards read the maintained totals; week, month and
        kind-filtered boards sum the ledger through covering indexes.
        """
        with domain_errors():
            kinds = rules_mod.family_kinds(family)
        page = clamp_page(page, first=0)
        offset = page * per_page
        window = rules_mod.window_start(period, self._clock())
        totals = rules_mod.uses_totals(period, family)
        kind_values = None if kinds is None else {k.value for k in kinds}
        season_no = 1

        def fetch(tx: Tx, start: int, count: int) -> list[tuple[int, int]]:
            # The season lookup (only season boards need it) is a primary-key read done in
            # the same hop as the page: a thread hop costs more than either query.
            nonlocal season_no
            started = None
            if period is Period.SEASON:
                season_no, started = repo.current_season(tx, guild_id)
            if totals:
                return repo.top_from_totals(
                    tx, guild_id, season=period is Period.SEASON, start=start, count=count
                )
            if window is not None:
                since = ts(window)
            elif started is not None:
                since = started
            else:
                since = ""
            return repo.top_from_ledger(
                tx, guild_id, since=since, kinds=kind_values, start=start, count=count
            )

        rows, more = await self._collect(fetch, offset, per_page, exclude)
        ranked = [(offset + i + 1, member, pts) for i, (member, pts) in enumerate(rows)]
        return LeaderboardPage(period, family, page, per_page, ranked, more, season_no)

    async def _collect(
        self, fetch: Fetch, offset: int, limit: int, exclude: Container[int]
    ) -> tuple[list[tuple[int, int]], bool]:
        """Skip excluded members, return ranked rows [offset, offset+limit) and whether more
        follow. Rows are read in growing chunks; the filter runs here, on the event loop,
        because it may consult discord.py's member cache."""
        kept: list[tuple[int, int]] = []
        seen = start = 0
        # Enough for the page, one more row (is there a next page?) and a few excluded
        # members; a short read is cheaper than a second hop only when exclusions are rare.
        chunk = offset + limit + 1 + max(4, (offset + limit) // 4)
        while True:
            rows = await self._db.read(_window(fetch, start, chunk))
            for member, points in rows:
                if member in exclude:
                    continue
                if seen >= offset:
                    if len(kept) == limit:
                        return kept, True
                    kept.append((member, points))
                seen += 1
            if len(rows) < chunk:
                return kept, False
            start += chunk
            chunk *= 2

    async def innovators(
        self, guild_id: int, *, limit: int = 10, exclude: Container[int] = frozenset()
    ) -> list[InnovatorScore]:
        """The members whose ideas most often become real, over the last 365 days."""
        since = ts(self._clock() - INNOVATOR_WINDOW)

        def read(tx: Tx) -> list[InnovatorScore]:
            ideas = repo.innovator_ideas(tx, guild_id, since)
            engaged = repo.engagement_counts(tx, guild_id, since)
            return rules_mod.innovator_scores(ideas, engaged, since)

        scores = await self._db.read(read)
        return rules_mod.rank_innovators((s for s in scores if s.member_id not in exclude), limit)

    # -- role rewards ----------------------------------------------------------------------
    async def role_totals(self, guild_id: int, member_ids: Collection[int]) -> dict[int, int]:
        """The total each member's role rewards follow (all-time or season, per guild)."""
        rules = await self._rules.get(guild_id)
        season = rules.role_basis is rules_mod.RoleBasis.SEASON
        found = await self._db.read(lambda tx: repo.totals_of(tx, guild_id, member_ids))
        return {m: found.get(m, (0, 0))[1 if season else 0] for m in member_ids}

    async def reward_role_changes(
        self,
        guild_id: int,
        member_ids: Iterable[int],
        held_roles: Callable[[int], Awaitable[Collection[int] | None]],
    ) -> list[RoleChange]:
        """The reward roles to give and take so each member's roles match their total
        (:func:`~bot.domain.points.role_changes`); members already in step are left out.

        ``held_roles(member)`` gives the role ids a member holds, or None when they are no
        longer a member. It may cost a Discord request, so it is called only when the
        guild has role rewards, once per member, in member id order.
        """
        rules = await self._rules.get(guild_id)
        if not rules.role_rewards:
            return []
        ids = set(member_ids)
        totals = await self.role_totals(guild_id, ids)
        changes: list[RoleChange] = []
        for member_id in sorted(ids):
            held = await held_roles(member_id)
            if held is None:
                continue
            add, remove = rules_mod.role_changes(totals.get(member_id, 0), rules.role_rewards, held)
            if add or remove:
                changes.append(RoleChange(member_id, tuple(sorted(add)), tuple(sorted(remove))))
        return changes

    async def members_with_points(self, guild_id: int) -> list[int]:
        """Every member with a totals row in the guild."""
        return await self._db.read(lambda tx: list(repo.iter_member_ids(tx, guild_id)))

    async def claim_role_notice(self, guild_id: int, role_id: int) -> bool:
        """True once per role the bot cannot manage: moderators are told a single time."""
        at = ts(self._clock())
        return await self._db.write(lambda tx: repo.claim_role_notice(tx, guild_id, role_id, at))

    async def release_role_notice(self, guild_id: int, role_id: int) -> None:
        """Allow a new notice about a role once it works again."""
        await self._db.write(lambda tx: repo.release_role_notice(tx, guild_id, role_id))

    # -- resets ----------------------------------------------------------------------------
    async def start_season(self, guild_id: int, actor_id: int) -> SeasonStart:
        """Archive the season's totals, reset them and open the next season (all-time kept).

        The result names the reward roles whose holders may now be owed a change.
        """
        now = self._clock()
        rules = await self._rules.get(guild_id)

        def unit(tx: Tx) -> SeasonStart:
            current, started = repo.current_season(tx, guild_id)
            if started is not None and now - datetime.fromisoformat(started) < SEASON_GUARD:
                raise Conflict(f"Season {current} started moments ago; nothing was changed.")
            opening = rules_mod.next_season(current)
            archived = repo.start_season(tx, guild_id, current, opening, actor_id, ts(now))
            common.record_mod_action(
                tx,
                guild_id,
                actor_id,
                "points.season_start",
                f"season {opening}",
                f"season {current} archived ({archived} members)",
            )
            top = repo.season_archive(tx, guild_id, current, 3)
            recheck = rules_mod.roles_to_recheck_after_season(rules)
            return SeasonStart(current, opening, archived, top, recheck)

        return await self._db.write(unit)

    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        """Anonymise the member's ledger entries and remove their totals (the caller
        applies pending outbox events first, so none re-creates what is forgotten)."""
        return await self._db.write(lambda tx: repo.forget_member(tx, guild_id, member_id))

    # -- consistency (tests, maintenance) --------------------------------------------------
    async def ledger_sums(self, guild_id: int) -> dict[int, int]:
        """Every member's ledger sum (consistency checks and tests)."""
        return await self._db.read(lambda tx: repo.ledger_sums(tx, guild_id))
