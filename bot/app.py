"""The one wiring point: settings → database → services → bot.

Nothing here runs at import. Tests and the sandbox demo call :func:`create_bot` with their
own settings (a temporary database, the sandbox's URLs) and get the same bot users run.

Imports point one way: this module builds the :class:`~bot.services.container.Services`
record and the client; the client knows the record, never this module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.scheduling.digest_cron import next_fire
from bot.scheduling.timers import TimerService
from bot.services.audit import AuditService
from bot.services.challenges import (
    EXPORT_CHALLENGES,
    EXPORT_ENTRIES,
    WINDOW_TIMER,
    ChallengeService,
)
from bot.services.challenges import POINTS_TIMER as CHALLENGE_POINTS
from bot.services.container import Services, backups_dir, migrate, utcnow
from bot.services.digest_sources import register as register_digest_sources
from bot.services.digests import DigestService
from bot.services.exports import ExportService
from bot.services.guild_settings import GuildSettingsService
from bot.services.guilds import GuildService
from bot.services.ideas import IdeaService
from bot.services.points import PointsService
from bot.services.policy import DATE_TIMER, POINTS_TIMER, PolicyService
from bot.services.polls import PollService
from bot.services.privacy import PrivacyService
from bot.services.webhooks import DELIVER_TIMER, WebhookService
from bot.settings import Settings
from bot.storage.database import Database

if TYPE_CHECKING:
    from bot.client import CocreateBot

__all__ = ["Services", "backups_dir", "create_bot", "create_services", "migrate"]


def create_services(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Services:
    """Build the services (nothing is opened until :meth:`Services.start`)."""
    db_settings = settings.database
    db = Database(
        db_settings.path,
        busy_timeout_ms=db_settings.busy_timeout_ms,
        batch_max_rows=db_settings.batch_max_rows,
        batch_max_delay_ms=db_settings.batch_max_delay_ms,
    )
    now = clock or utcnow
    guild_settings = GuildSettingsService(db, settings.guild_defaults)
    privacy = PrivacyService(db)
    ideas = IdeaService(db, guild_settings, now)
    privacy.register("ideas", ideas.forget)
    points = PointsService(db, guild_settings, now)
    privacy.register("points", points.forget)
    ideas.on_events.append(points.notify)  # the consumer wakes after each idea commit
    ideas.also_apply.append((points.apply_in_unit, points.notify))  # ...or in a capture's unit
    guild_settings.on_change.append(ideas.settings_changed)
    polls = PollService(db, guild_settings, now, points)
    privacy.register("polls", polls.forget)
    timers = TimerService(db, now)
    # Policy changes: their dates and feedback points are timer rows the service handles.
    policy = PolicyService(db, guild_settings, now, points=points, ideas=ideas, timers=timers)
    privacy.register("policy", policy.forget)
    timers.register(DATE_TIMER, policy.on_date)
    timers.register(POINTS_TIMER, policy.on_points)
    # Digests: features contribute sections and exports (registered below).
    digests = DigestService(
        db, guild_settings, now, next_fire, innovators=lambda g: points.innovators(g, limit=5)
    )
    guild_settings.on_change.append(digests.settings_changed)
    # Outgoing webhooks: an outbox consumer; each delivery is a timer row.
    webhooks = WebhookService(
        db, timers, now, allow_localhost=settings.bot.webhooks_allow_localhost
    )
    ideas.on_events.append(webhooks.notify)
    ideas.also_apply.append((webhooks.apply_in_unit, webhooks.notify))  # a capture's, in its unit
    privacy.register("webhooks", webhooks.forget)
    timers.register(DELIVER_TIMER, webhooks.deliver)
    exports = ExportService(db)
    # Challenges: their ideas attach inside the ideas' submit unit; windows and rewards are
    # timer rows; they report in the digest and the export, and forget members.
    challenges = ChallengeService(
        db, guild_settings, now, ideas=ideas, points=points, timers=timers
    )
    ideas.on_submit.append(challenges.attach)
    timers.register(WINDOW_TIMER, challenges.on_window)
    timers.register(CHALLENGE_POINTS, challenges.on_points)
    privacy.register("challenges", challenges.forget)
    digests.register_section("challenges", challenges.digest_section)
    exports.register("challenges", challenges.export_challenges, columns=EXPORT_CHALLENGES)
    exports.register("challenge_entries", challenges.export_entries, columns=EXPORT_ENTRIES)
    register_digest_sources(digests, exports, db, polls)  # polls and policy sections, exports
    return Services(
        settings=settings,
        db=db,
        guild_settings=guild_settings,
        privacy=privacy,
        audit=AuditService(db),
        guilds=GuildService(db),
        ideas=ideas,
        points=points,
        polls=polls,
        policy=policy,
        timers=timers,
        clock=now,
        digests=digests,
        exports=exports,
        webhooks=webhooks,
        challenges=challenges,
    )


def create_bot(settings: Settings, services: Services | None = None) -> CocreateBot:
    """Build the bot with its services; ``bot.start(token)`` runs it."""
    from bot.client import CocreateBot  # discord.py is heavy: only import it when a bot is built

    return CocreateBot(settings, services or create_services(settings))
