"""The Points feature's per-server settings: what each contribution earns, caps, role rewards."""

from __future__ import annotations

from bot.domain.setting import Kind, Setting

SETTINGS = (
    Setting(
        "help_channels",
        Kind.CHANNELS,
        "Channels or forums where members help each other",
        [],
        comment=("Channels or forums where members help each other.\n"),
    ),
    Setting(
        "points_idea_submitted",
        Kind.INT,
        "Points for submitting an idea",
        2,
        comment=(
            "Points each contribution earns (0 turns one off). Vote points follow the vote as it\n"
            "stands: retracting removes the point, voting again restores it.\n"
        ),
        minimum=0,
        maximum=1000,
    ),
    Setting(
        "points_vote_received",
        Kind.INT,
        "Points per support vote on your idea",
        1,
        minimum=0,
        maximum=100,
    ),
    Setting(
        "points_idea_planned",
        Kind.INT,
        "Points when your idea is planned",
        10,
        comment=(
            'Reaching "planned" (or in progress) pays once; "implemented" pays once more, to the\n'
            "author and the idea's contributors.\n"
        ),
        minimum=0,
        maximum=10000,
    ),
    Setting(
        "points_idea_implemented",
        Kind.INT,
        "Points when your idea ships",
        50,
        minimum=0,
        maximum=10000,
    ),
    Setting(
        "points_helpful_answer",
        Kind.INT,
        "Points for an answer marked ✅",
        5,
        comment=("A ✅ reaction from the asker (or a moderator) in a help channel or forum.\n"),
        minimum=0,
        maximum=1000,
    ),
    Setting(
        "points_participation",
        Kind.INT,
        "Points for taking a poll or survey",
        1,
        comment=("Poll or survey participation, and feedback on a policy change.\n"),
        minimum=0,
        maximum=100,
    ),
    Setting(
        "points_policy_feedback",
        Kind.INT,
        "Points for feedback on a policy",
        2,
        minimum=0,
        maximum=100,
    ),
    Setting(
        "points_challenge_finalist",
        Kind.INT,
        "Points for a challenge finalist",
        25,
        minimum=0,
        maximum=10000,
    ),
    Setting(
        "points_challenge_winner",
        Kind.INT,
        "Points for a challenge winner",
        100,
        minimum=0,
        maximum=10000,
    ),
    Setting(
        "points_cap_votes_daily",
        Kind.INT,
        "Daily cap on points from votes (0: none)",
        20,
        comment=(
            "Daily caps per member (UTC days) so volume cannot farm points; 0 means no cap.\n"
            "Votes received on your ideas:\n"
        ),
        minimum=0,
        maximum=100000,
    ),
    Setting(
        "points_cap_ideas_daily",
        Kind.INT,
        "Daily cap on points for ideas (0: none)",
        10,
        comment=("Ideas submitted:\n"),
        minimum=0,
        maximum=100000,
    ),
    Setting(
        "points_cap_helpful_daily",
        Kind.INT,
        "Daily cap on helpful-answer points (0: none)",
        25,
        comment=("Helpful answers:\n"),
        minimum=0,
        maximum=100000,
    ),
    Setting(
        "points_cap_participation_daily",
        Kind.INT,
        "Daily cap on participation points (0: none)",
        10,
        comment=("Poll/survey participation and policy feedback together:\n"),
        minimum=0,
        maximum=100000,
    ),
    Setting(
        "points_vote_pair_limit",
        Kind.INT,
        "Vote awards one member may give another per 24h",
        3,
        comment=(
            "Against vote rings: at most this many of one member's votes pay the same author per\n"
            "24 hours (distinct ideas; re-voting on the same idea does not count again). "
            "0: no limit.\n"
        ),
        minimum=0,
        maximum=1000,
    ),
    Setting(
        "points_role_rewards",
        Kind.TEXTS,
        "Reward roles as `points:role`, e.g. `50:<@&id>`",
        [],
        comment=(
            'Reward roles, each "points:role id", e.g. ["50:123456789012345678"]; '
            "members hold every\n"
            "role whose threshold their total reaches, and lose it when they drop below.\n"
        ),
    ),
    Setting(
        "points_role_basis",
        Kind.TEXT,
        "Role rewards follow `all_time` or `season` totals",
        "all_time",
        comment=('Which total role rewards follow: "all_time" or "season".\n'),
    ),
    Setting(
        "points_exclude_staff",
        Kind.BOOL,
        "Leave staff out of points leaderboards",
        False,
        comment=("Leave members with a staff role out of the leaderboards.\n"),
    ),
    Setting(
        "points_adjust_max",
        Kind.INT,
        "Largest /points adjust either way",
        500,
        comment=("Largest adjustment a moderator can make with /points adjust, either way.\n"),
        minimum=1,
        maximum=1000000,
    ),
)
