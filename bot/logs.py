"""Logging: stdlib, one readable format, discord.py's loggers routed through it."""

from __future__ import annotations

import logging
import re
import sys

from bot.settings import LoggingSettings

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}")


class RedactTokens(logging.Filter):
    """Belt and braces: anything shaped like a bot token is masked before it is written."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN_SHAPE.sub("[token]", message)
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "[token]")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class DropVoiceNotices(logging.Filter):
    """discord.py warns at start that voice libraries are missing; Cocreate has no voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        notice = str(record.msg).endswith("voice will NOT be supported")
        return not (record.name == "discord.client" and notice)


def configure_logging(settings: LoggingSettings, *, secrets: tuple[str, ...] = ()) -> None:
    """Send every logger, discord.py's included, to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(settings.format))
    handler.addFilter(RedactTokens(secrets))
    handler.addFilter(DropVoiceNotices())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    logging.getLogger("discord").setLevel(settings.discord_level)
    logging.getLogger("apscheduler").setLevel(
        max(logging.INFO, logging.getLevelName(settings.level))
    )
