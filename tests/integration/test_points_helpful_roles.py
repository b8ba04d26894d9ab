"""The ✅ and role-reward use cases of PointsService: the service decides who may mark an
answer helpful, which ✅ carries an award on, and which reward roles change; the cog only
supplies facts, and facts that cost Discord requests are read only when a rule needs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime

import pytest

from bot.domain.points_model import HelpfulMarker, RoleChange
from bot.services.guild_settings import GuildSettingsService
from bot.services.points import PointsService
from bot.settings import Settings
from bot.storage.database import Database

G = 1000
MOD = 900
ASKER, ANSWERER, OTHER, HELPER = 11, 12, 13, 14
MESSAGE = 77
ROLE_A, ROLE_B, HAND_GIVEN = 111111111111111111, 222222222222222222, 333333333333333333


@pytest.fixture
def guild_settings(db: Database, settings: Settings) -> GuildSettingsService:
    return GuildSettingsService(db, settings.guild_defaults)


@pytest.fixture
def points(db: Database, guild_settings: GuildSettingsService) -> PointsService:
    return PointsService(db, guild_settings, lambda: datetime(2026, 3, 2, 12, tzinfo=UTC))


class Askers:
    """A lazy source of who asked; counts how far it was read."""

    def __init__(self, *askers: int) -> None:
        self.askers = askers
        self.read = 0

    async def __call__(self) -> AsyncIterator[int]:
        for asker in self.askers:
            self.read += 1
            yield asker


class Markers:
    """The ✅s left on an answer; records what the service asked to skip."""

    def __init__(self, *markers: HelpfulMarker) -> None:
        self.markers = markers
        self.skipped: list[set[int]] = []

    async def __call__(self, skip: Collection[int]) -> AsyncIterator[HelpfulMarker]:
        self.skipped.append(set(skip))
        for marker in self.markers:
            if marker.member_id not in skip:
                yield marker


def member(member_id: int) -> HelpfulMarker:
    return HelpfulMarker(member_id, moderator=False)


def moderator(member_id: int) -> HelpfulMarker:
    return HelpfulMarker(member_id, moderator=True)


async def test_a_moderators_check_mark_pays_without_asking_who_asked(
    points: PointsService,
) -> None:
    askers = Askers(ASKER)
    result = await points.mark_helpful(G, MESSAGE, ANSWERER, moderator(MOD), askers)
    assert (result.status, result.delta) == ("awarded", 5)
    assert askers.read == 0


async def test_the_asker_pays_and_the_lookup_stops_at_them(points: PointsService) -> None:
    askers = Askers(ASKER, OTHER)  # the thread's starter, then the message answered
    result = await points.mark_helpful(G, MESSAGE, ANSWERER, member(ASKER), askers)
    assert result.delta == 5
    assert askers.read == 1
    assert (await points.history(G, ANSWERER))[0].actor_id == ASKER


async def test_anyone_else_pays_nothing(points: PointsService) -> None:
    askers = Askers(ASKER)
    result = await points.mark_helpful(G, MESSAGE, ANSWERER, member(OTHER), askers)
    assert result.status == "skipped" and askers.read == 1
    own = Askers(ANSWERER)
    result = await points.mark_helpful(G, MESSAGE, ANSWERER, moderator(ANSWERER), own)
    assert result.status == "skipped" and own.read == 0  # one's own answer: no lookup
    assert await points.totals(G, ANSWERER) == (0, 0)


async def test_removing_the_paying_check_mark_lets_the_next_qualifying_one_carry_it(
    points: PointsService,
) -> None:
    assert (await points.mark_helpful(G, MESSAGE, ANSWERER, member(ASKER), Askers(ASKER))).delta
    markers = Markers(member(OTHER), member(ANSWERER), moderator(MOD), member(HELPER))
    undone = await points.unmark_helpful(
        G, MESSAGE, removed_by=ASKER, markers=markers, askers=Askers(ASKER)
    )
    assert undone is not None and (undone.member_id, undone.delta) == (ANSWERER, -5)
    assert markers.skipped == [{ANSWERER, ASKER}]  # never looked up: they cannot carry it
    history = await points.history(G, ANSWERER)
    assert [(e.delta, e.actor_id) for e in history] == [(5, MOD), (-5, ASKER), (5, ASKER)]
    assert await points.totals(G, ANSWERER) == (5, 5)


async def test_without_a_qualifying_check_mark_left_the_points_stay_taken_back(
    points: PointsService,
) -> None:
    await points.mark_helpful(G, MESSAGE, ANSWERER, moderator(MOD), Askers())
    askers = Askers(ASKER)
    undone = await points.unmark_helpful(
        G, MESSAGE, removed_by=MOD, markers=Markers(member(OTHER), member(HELPER)), askers=askers
    )
    assert undone is not None and undone.delta == -5
    assert askers.read == 2  # asked once per ✅ left (the cog's source remembers lookups)
    assert await points.totals(G, ANSWERER) == (0, 0)


async def test_a_check_mark_that_did_not_pay_reads_nothing(points: PointsService) -> None:
    await points.mark_helpful(G, MESSAGE, ANSWERER, member(ASKER), Askers(ASKER))
    markers, askers = Markers(moderator(MOD)), Askers(ASKER)
    none = await points.unmark_helpful(G, MESSAGE, removed_by=OTHER, markers=markers, askers=askers)
    assert none is None and markers.skipped == [] and askers.read == 0
    # Cleared by a moderator: taken back, and no ✅ is left to carry it.
    cleared = await points.unmark_helpful(
        G, MESSAGE, removed_by=None, markers=markers, askers=askers
    )
    assert cleared is not None and cleared.delta == -5 and markers.skipped == []
    assert await points.totals(G, ANSWERER) == (0, 0)


async def test_role_changes_follow_totals_and_ask_for_roles_only_when_needed(
    points: PointsService, guild_settings: GuildSettingsService
) -> None:
    asked: list[int] = []
    held = {1: [ROLE_B, HAND_GIVEN], 2: [], 3: [ROLE_A]}

    async def held_roles(member_id: int) -> list[int] | None:
        asked.append(member_id)
        return held.get(member_id)  # 4 left the server

    for who, delta in ((1, 10), (2, 60), (3, 5), (4, 60)):
        await points.adjust(G, who, delta, "seed", MOD, key=str(who))
    assert await points.reward_role_changes(G, [1, 2, 3, 4], held_roles) == []
    assert asked == []  # no role rewards: no member was looked up

    await guild_settings.set_values(
        G, {"points_role_rewards": [f"3:{ROLE_A}", f"50:{ROLE_B}"]}, MOD
    )
    changes = await points.reward_role_changes(G, [3, 1, 2, 4, 1], held_roles)
    assert asked == [1, 2, 3, 4]  # once each, in member id order
    assert changes == [
        RoleChange(1, add=(ROLE_A,), remove=(ROLE_B,)),  # the hand-given role stays
        RoleChange(2, add=(ROLE_A, ROLE_B), remove=()),
    ]  # 3 is in step; 4 is gone


async def test_a_season_start_names_the_roles_to_recheck(
    points: PointsService, guild_settings: GuildSettingsService
) -> None:
    await guild_settings.set_values(
        G, {"points_role_rewards": [f"3:{ROLE_A}"], "points_role_basis": "season"}, MOD
    )
    assert (await points.start_season(G, MOD)).recheck_roles == (ROLE_A,)
    await guild_settings.set_values(G + 1, {"points_role_rewards": [f"3:{ROLE_A}"]}, MOD)
    assert (await points.start_season(G + 1, MOD)).recheck_roles == ()
