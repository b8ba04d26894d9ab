"""The one wiring point: settings → database → services → bot.

Nothing here runs at import. Tests and the sandbox demo call :func:`create_bot` with their
own settings (a temporary database, the sandbox's URLs) and get the same bot users run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.scheduling.timers import TimerService
from bot.services.audit import AuditService
from bot.services.guild_settings import GuildSettingsService
from bot.services.guilds import GuildService
from bot.services.ideas import IdeaService
from bot.services.points import PointsService
from bot.services.privacy import PrivacyService
from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.migrations import MigrationReport, apply_migrations, load_migrations

if TYPE_CHECKING:
    from bot.client import CocreateBot

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything cogs call. Built once per process; owns the database."""

    settings: Settings
    db: Database
    guild_settings: GuildSettingsService
    privacy: PrivacyService
    audit: AuditService
    guilds: GuildService
    ideas: IdeaService
    points: PointsService
    timers: TimerService
    clock: Callable[[], datetime] = field(default=_utcnow)

    async def start(self) -> MigrationReport:
        """Open the database and bring its schema up to date."""
        await self.db.open()
        try:
            return await migrate(self.db, self.settings)
        except BaseException:
            await self.db.close()
            raise

    async def close(self) -> None:
        """Commit what is queued and close the database."""
        await self.db.close()


def backups_dir(settings: Settings) -> Path:
    if settings.database.backups_dir:
        return Path(settings.database.backups_dir)
    return Path(settings.database.path).resolve().parent / "backups"


async def migrate(db: Database, settings: Settings) -> MigrationReport:
    """Apply pending migrations, backing the file up first when it already has data."""
    migrations = load_migrations()
    folder = backups_dir(settings) if settings.database.backup_before_migrate else None
    stem = Path(settings.database.path).stem
    report = await db.run_exclusive(
        lambda conn: apply_migrations(conn, migrations, backup_dir=folder, db_name=stem)
    )
    if report.applied:
        log.info("Database schema %d → %d", report.before, report.after)
    return report


def create_services(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Services:
    """Build the services (nothing is opened until :meth:`Services.start`)."""
    db_settings = settings.database
    db = Database(
        db_settings.path,
        busy_timeout_ms=db_settings.busy_timeout_ms,
        batch_max_rows=db_settings.batch_max_rows,
        batch_max_delay_ms=db_settings.batch_max_delay_ms,
    )
    now = clock or _utcnow
    guild_settings = GuildSettingsService(db, settings.guild_defaults)
    privacy = PrivacyService(db)
    ideas = IdeaService(db, guild_settings, now)
    privacy.register("ideas", ideas.forget)
    points = PointsService(db, guild_settings, now)
    privacy.register("points", points.forget)
    ideas.on_events.append(points.notify)  # the consumer wakes after each idea commit
    guild_settings.on_change.append(ideas.settings_changed)
    return Services(
        settings=settings,
        db=db,
        guild_settings=guild_settings,
        privacy=privacy,
        audit=AuditService(db),
        guilds=GuildService(db),
        ideas=ideas,
        points=points,
        timers=TimerService(db, now),
        clock=now,
    )


def create_bot(settings: Settings, services: Services | None = None) -> CocreateBot:
    """Build the bot with its services; ``bot.start(token)`` runs it."""
    from bot.client import CocreateBot  # discord.py is heavy: only import it when a bot is built

    return CocreateBot(settings, services or create_services(settings))
