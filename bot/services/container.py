"""The services cogs call, in one record that owns the database.

It lives apart from :mod:`bot.app` (which builds it) so that the bot client can depend on
it without depending on the wiring point, which itself builds the client: the client
imports this module, :mod:`bot.app` imports both, and nothing imports :mod:`bot.app` back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.scheduling.timers import TimerService
from bot.services.audit import AuditService
from bot.services.challenges import ChallengeService
from bot.services.digests import DigestService
from bot.services.exports import ExportService
from bot.services.guild_settings import GuildSettingsService
from bot.services.guilds import GuildService
from bot.services.ideas import IdeaService
from bot.services.points import PointsService
from bot.services.policy import PolicyService
from bot.services.polls import PollService
from bot.services.privacy import PrivacyService
from bot.services.webhooks import WebhookService
from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.migrations import MigrationReport, apply_migrations, load_migrations

log = logging.getLogger(__name__)


def utcnow() -> datetime:
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
    policy: PolicyService
    timers: TimerService
    polls: PollService
    digests: DigestService
    exports: ExportService
    webhooks: WebhookService
    challenges: ChallengeService
    clock: Callable[[], datetime] = field(default=utcnow)

    async def start(self) -> MigrationReport:
        """Open the database, bring its schema up to date and read what the hot paths
        keep in memory (the open polls)."""
        await self.db.open()
        try:
            report = await migrate(self.db, self.settings)
            await self.polls.warm()
        except BaseException:
            await self.db.close()
            raise
        return report

    async def close(self) -> None:
        """Stop the webhook sends (their rows resume at the next start), commit what is
        queued and close the database."""
        await self.webhooks.close()
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
