-- Contribution points: an append-only ledger, per-member totals maintained in the same
-- transaction as each entry, daily cap counters, vote-pair state (so toggling a vote never
-- pays twice), per-idea statistics for the innovator score, seasons and their archive.
-- Times are ISO-8601 UTC text with microseconds, so text order is time order.

CREATE TABLE points_ledger (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    member_id   INTEGER NOT NULL,          -- 0: a forgotten member
    delta       INTEGER NOT NULL,          -- what was paid (0 when a cap withheld it all)
    kind        TEXT    NOT NULL,          -- bot.domain.points.AwardKind
    reason      TEXT    NOT NULL DEFAULT '',
    source_kind TEXT    NOT NULL DEFAULT '',
    source_id   INTEGER,
    award_key   TEXT    NOT NULL,          -- one award, once: replays are no-ops
    actor_id    INTEGER,
    withheld    INTEGER NOT NULL DEFAULT 0, -- points a cap or cooldown kept back
    created_at  TEXT    NOT NULL,
    UNIQUE (guild_id, award_key)
);
-- Week/month leaderboards aggregate a time range without touching the table (covering).
CREATE INDEX points_ledger_window ON points_ledger (guild_id, created_at, member_id, delta);
-- Leaderboards filtered by kind (also covering).
CREATE INDEX points_ledger_kind ON points_ledger (guild_id, kind, created_at, member_id, delta);
-- /points show and /points history: a member's latest entries.
CREATE INDEX points_ledger_member ON points_ledger (guild_id, member_id, id);
-- Hiding an idea reverses everything it produced.
CREATE INDEX points_ledger_source ON points_ledger (guild_id, source_kind, source_id)
    WHERE source_id IS NOT NULL;

CREATE TABLE points_totals (
    guild_id   INTEGER NOT NULL,
    member_id  INTEGER NOT NULL,
    all_time   INTEGER NOT NULL DEFAULT 0,
    season     INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, member_id)
) WITHOUT ROWID;
CREATE INDEX points_totals_all_time ON points_totals (guild_id, all_time DESC, member_id);
CREATE INDEX points_totals_season ON points_totals (guild_id, season DESC, member_id);

-- Points paid per member, cap group and UTC day; a retracted vote gives its point back to
-- the day it was counted on, so toggling neither gains nor burns the cap. Keyed by day
-- first: a day's counters sit together (few pages written per batch of awards) and days
-- that no cap can consult any more are pruned as a range.
CREATE TABLE points_daily (
    guild_id  INTEGER NOT NULL,
    day       TEXT    NOT NULL,            -- YYYY-MM-DD (UTC)
    cap_group TEXT    NOT NULL,
    member_id INTEGER NOT NULL,
    used      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, day, cap_group, member_id)
) WITHOUT ROWID;

-- One row per (idea, voter): the vote as it stands and what it currently pays the author.
-- Award keys use this row's id, never member ids, so forgetting a voter leaves no trace.
CREATE TABLE points_vote_pairs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    idea_id       INTEGER NOT NULL,
    voter_id      INTEGER,                 -- NULL: a forgotten voter
    author_id     INTEGER NOT NULL,
    standing      INTEGER NOT NULL DEFAULT 0,   -- +1 support, -1 oppose, 0 none
    paid          INTEGER NOT NULL DEFAULT 0,   -- 0 or 1: the point currently standing
    paid_day      TEXT,                    -- the cap day that point was counted on
    first_paid_at TEXT,                    -- for the giver→receiver cooldown
    seq           INTEGER NOT NULL DEFAULT 0,   -- n in the award key vote:<id>:<n>
    parked        INTEGER NOT NULL DEFAULT 0,   -- the standing a merge cleared (for unmerge)
    moved_from    INTEGER,                 -- the idea a merge moved this vote from
    UNIQUE (guild_id, idea_id, voter_id)
);
CREATE INDEX points_vote_pairs_ring
    ON points_vote_pairs (guild_id, voter_id, author_id, first_paid_at);

-- What the innovator score needs per idea, kept from the outbox events.
CREATE TABLE points_idea_stats (
    guild_id       INTEGER NOT NULL,
    idea_id        INTEGER NOT NULL,
    author_id      INTEGER NOT NULL,       -- 0: a forgotten member
    status         TEXT    NOT NULL DEFAULT 'new',  -- the status under any hiding
    hidden         INTEGER NOT NULL DEFAULT 0,
    hide_seq       INTEGER NOT NULL DEFAULT 0,
    support_votes  INTEGER NOT NULL DEFAULT 0,
    submitted_at   TEXT    NOT NULL,
    planned_at     TEXT,
    implemented_at TEXT,
    PRIMARY KEY (guild_id, idea_id)
) WITHOUT ROWID;
CREATE INDEX points_idea_stats_author ON points_idea_stats (guild_id, author_id);

-- Distinct other members' ideas a member voted on or commented on.
CREATE TABLE points_engagement (
    guild_id  INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    idea_id   INTEGER NOT NULL,
    first_at  TEXT    NOT NULL,
    PRIMARY KEY (guild_id, member_id, idea_id)
) WITHOUT ROWID;

CREATE TABLE points_seasons (
    guild_id   INTEGER NOT NULL,
    season_no  INTEGER NOT NULL,
    started_at TEXT    NOT NULL,
    started_by INTEGER,
    PRIMARY KEY (guild_id, season_no)
) WITHOUT ROWID;

CREATE TABLE points_season_archive (
    guild_id  INTEGER NOT NULL,
    season_no INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    points    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, season_no, member_id)
) WITHOUT ROWID;

-- Reward roles the bot could not manage, so moderators are told once, not on every award.
CREATE TABLE points_role_notices (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL,
    notified_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, role_id)
) WITHOUT ROWID;
