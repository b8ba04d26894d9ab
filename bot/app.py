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
    exports = ExportService(db)
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
    )


def create_bot(settings: Settings, services: Services | None = None) -> CocreateBot:
    """Build the bot with its services; ``bot.start(token)`` runs it."""
    from bot.client import CocreateBot  # discord.py is heavy: only import it when a bot is built

    return CocreateBot(settings, services or create_services(settings))
