"""The digests feature's per-server settings: when the staff summary is posted, where,
and whether staff annotate it first."""

from __future__ import annotations

from bot.domain.setting import Kind, Setting

SETTINGS = (
    Setting(
        "digest_enabled",
        Kind.BOOL,
        "Post the scheduled staff digest",
        True,
        comment=("Post the scheduled staff digest (to digest_channel, else staff_channel).\n"),
    ),
    Setting(
        "digest_schedule",
        Kind.TEXT,
        "When: daily, weekly, monthly or a crontab",
        "weekly",
        comment=(
            'When the digest is posted, in the server\'s timezone: "daily", "weekly" (Mondays),\n'
            '"monthly" (the 1st), all at 09:00, or a crontab such as "0 9 * * 1" (Sunday = 0).\n'
        ),
    ),
    Setting(
        "digest_channel",
        Kind.CHANNEL,
        "Where digests are published (default: staff_channel)",
        0,
        comment=("Channel digests are published in; 0 means the staff_channel.\n"),
    ),
    Setting(
        "digest_annotate",
        Kind.BOOL,
        "Draft to the staff channel first, for a note",
        False,
        comment=(
            "Post a draft to the staff channel first, with Publish and Add note buttons; it\n"
            "publishes itself after digest_publish_delay unless a staff member holds it.\n"
        ),
    ),
    Setting(
        "digest_publish_delay",
        Kind.DURATION,
        "A draft publishes itself after",
        "24h",
        comment=("How long an annotated draft waits before it publishes itself.\n"),
    ),
)
