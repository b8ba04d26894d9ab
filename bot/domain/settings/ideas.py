"""The Ideas feature's per-server settings: where ideas are collected and shown, and the
rules of capture."""

from __future__ import annotations

from bot.domain.setting import Kind, Setting

SETTINGS = (
    Setting(
        "watched_channels",
        Kind.CHANNELS,
        "Channels where tagged ideas are collected",
        [],
        comment=(
            "Channels where tagged messages become ideas. None until a moderator chooses, so a\n"
            "staff-only message is never exposed by accident.\n"
        ),
    ),
    Setting(
        "ideas_channel",
        Kind.CHANNEL,
        "Where idea cards are posted",
        0,
        comment=("Channel where idea cards are posted.\n"),
    ),
    Setting(
        "ideas_forum",
        Kind.CHANNEL,
        "Forum whose new posts become ideas",
        0,
        comment=("Forum channel whose new posts become ideas.\n"),
    ),
    Setting(
        "shipped_channel",
        Kind.CHANNEL,
        "Where implemented ideas are celebrated",
        0,
        comment=("Channel where implemented ideas are announced.\n"),
    ),
    Setting(
        "ideas_tags",
        Kind.TEXTS,
        "Tags that capture ideas, each `tag` or `tag=kind`",
        ["idea", "feedback", "bug", "story", "prototype"],
        comment=(
            'Tags that turn a message in a watched channel into an idea: "tag" (kind = tag) or\n'
            '"tag=kind". Members write [idea] ... or #idea ...\n'
        ),
    ),
    Setting(
        "ideas_cooldown",
        Kind.DURATION,
        "Minimum time between one member's ideas",
        "2m",
        comment=(
            'Minimum time between two ideas of one member (spam guard); "0s" is not allowed, '
            'use "1s".\n'
        ),
    ),
    Setting(
        "ideas_response_target",
        Kind.DURATION,
        "First response due within (overdue after)",
        "10d",
        comment=(
            "Ideas still `new` this long after submission count as overdue "
            "(Toyota answers in days).\n"
        ),
    ),
    Setting(
        "ideas_oppose_votes",
        Kind.BOOL,
        "Offer an oppose button besides support",
        False,
        comment=(
            "Offer an oppose button next to support (net votes and the Wilson bound then differ).\n"
        ),
    ),
    Setting(
        "ideas_reaction_votes",
        Kind.BOOL,
        "Count 👍 reactions on idea cards as votes",
        False,
        comment=("Count 👍 reactions on idea cards as support votes, like the button.\n"),
    ),
    Setting(
        "ideas_thread_lock_delay",
        Kind.DURATION,
        "How long a decided idea's thread stays open",
        "24h",
        comment=(
            "When an idea becomes implemented, declined or duplicate, its thread gets a closing\n"
            "message and is archived and locked this long after the decision (moving the idea\n"
            "back to an open status unlocks it).\n"
        ),
    ),
    Setting(
        "ideas_review",
        Kind.TEXT,
        "Hold ideas for moderator review: off, all or new_members",
        "off",
        comment=(
            "Hold new ideas in the moderators' queue (/idea queue) before their card is public:\n"
            '"off", "all", or "new_members" (joined less than ideas_review_days ago, or with\n'
            "fewer than ideas_review_points points).\n"
        ),
        choices=("off", "all", "new_members"),
    ),
    Setting(
        "ideas_review_days",
        Kind.INT,
        "With new_members review: members who joined this many days ago or less are held",
        7,
        comment=('With ideas_review = "new_members": how many days a member counts as new.\n'),
        minimum=0,
        maximum=365,
    ),
    Setting(
        "ideas_review_points",
        Kind.INT,
        "With new_members review: members with fewer points are held",
        0,
        comment=(
            'With ideas_review = "new_members": members with fewer points than this count as\n'
            "new too (0: points do not matter).\n"
        ),
        minimum=0,
        maximum=1_000_000,
    ),
    Setting(
        "ideas_anonymous",
        Kind.BOOL,
        'Allow /idea submit anonymous:True (cards say "a member")',
        False,
        comment=(
            'Let members submit ideas anonymously: the card says "a member"; moderators can\n'
            "still see the author (each look is written to the mod log).\n"
        ),
    ),
)
