"""The Policy feature's per-server settings: how long members may comment on a policy
change, and when they and staff are reminded."""

from __future__ import annotations

from bot.domain.setting import Kind, Setting

SETTINGS = (
    Setting(
        "policy_comment_period",
        Kind.DURATION,
        "Comment period of a policy change, unless its draft says otherwise",
        "7d",
        comment=(
            "How long members comment on an announced policy change when its draft sets no\n"
            "end (from announcing). The announcements channel is set in core settings.\n"
        ),
    ),
    Setting(
        "policy_min_comment_period",
        Kind.DURATION,
        "Shortest comment period a policy change may have",
        "3d",
        comment=("No policy change can be announced with a shorter comment period.\n"),
    ),
    Setting(
        "policy_reminder_lead",
        Kind.DURATION,
        "Reminders this long before the comment period ends and before the effective date",
        "48h",
        comment=(
            "A reminder in the policy's thread this long before its comment period ends, and\n"
            "to staff this long before its effective date when they have not responded.\n"
        ),
    ),
)
