"""The Polls feature's per-server settings: who creates polls, how long they may run, and
when survey results are shown."""

from __future__ import annotations

from bot.domain.setting import Kind, Setting

SETTINGS = (
    Setting(
        "polls_creator_roles",
        Kind.ROLES,
        "Roles that may create polls (none: moderators)",
        [],
        comment=(
            "Polls and outcome surveys. Roles whose members may create polls and surveys; empty\n"
            "means moderators only (members with Manage Server or a moderator role).\n"
        ),
    ),
    Setting(
        "polls_max_duration",
        Kind.DURATION,
        "Longest a poll or survey may run",
        "30d",
        comment='The longest a poll or survey may run (such as "30d"; at most "366d").\n',
    ),
    Setting(
        "polls_min_survey_responses",
        Kind.INT,
        "Responses before survey results are shown",
        5,
        comment=(
            "Survey results (the opportunity table and chart) are shown only once this many\n"
            "members completed the survey: fewer answers say more about who answered than\n"
            "about the need.\n"
        ),
        minimum=1,
        maximum=10000,
    ),
)
