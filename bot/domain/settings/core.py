"""Settings every feature shares: the timezone, who moderates, and the channels that are
not one feature's own."""

from __future__ import annotations

from bot.domain.setting import Kind, Setting

SETTINGS = (
    Setting(
        "timezone",
        Kind.TIMEZONE,
        "Timezone for dates, digests and deadlines",
        "UTC",
        comment=("IANA timezone for dates members type, digests and deadlines.\n"),
    ),
    Setting(
        "moderator_roles",
        Kind.ROLES,
        "Roles whose members moderate Cocreate",
        [],
        comment=("Roles whose members moderate (members with Manage Server always do).\n"),
    ),
    Setting(
        "staff_roles",
        Kind.ROLES,
        "Roles whose members are staff (digests, decisions)",
        [],
        comment=("Roles whose members are staff (members with Manage Server always are).\n"),
    ),
    Setting(
        "judge_roles",
        Kind.ROLES,
        "Roles whose members judge challenges",
        [],
        comment=("Roles whose members judge challenges.\n"),
    ),
    Setting(
        "staff_channel",
        Kind.CHANNEL,
        "Where staff digests are posted",
        0,
        comment=("Channel for staff digests.\n"),
    ),
    Setting(
        "announcements_channel",
        Kind.CHANNEL,
        "Where policy changes are announced",
        0,
        comment=("Channel for policy-change announcements.\n"),
    ),
    Setting(
        "modlog_channel",
        Kind.CHANNEL,
        "Where moderator actions are logged",
        0,
        comment=("Channel where moderator actions are logged.\n"),
    ),
)
