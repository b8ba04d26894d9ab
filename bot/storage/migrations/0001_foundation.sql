-- Foundation: process metadata, per-guild settings, guild membership of the bot,
-- moderator audit, privacy requests, the domain-event outbox and due timers.
-- Times are ISO-8601 UTC text ("2026-11-23T18:32:27.123456+00:00").

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Only what a guild changed; reads fall back to [guild_defaults].
CREATE TABLE guild_settings (
    guild_id   INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,          -- JSON
    updated_by INTEGER,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, key)
) WITHOUT ROWID;

CREATE TABLE guilds (
    guild_id           INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL DEFAULT '',
    joined_at          TEXT    NOT NULL,
    left_at            TEXT,
    checklist_sent_at  TEXT
);

CREATE TABLE mod_actions (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    actor_id   INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL
);
CREATE INDEX mod_actions_guild ON mod_actions (guild_id, id);

CREATE TABLE privacy_requests (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'done', 'rejected')),
    requested_at TEXT    NOT NULL,
    decided_by   INTEGER,
    decided_at   TEXT,
    report       TEXT
);
-- At most one open request per member and guild.
CREATE UNIQUE INDEX privacy_requests_open
    ON privacy_requests (guild_id, user_id) WHERE status = 'pending';

-- Domain events written in the same transaction as the change they describe; points,
-- digests and challenges read them in id order and remember how far they got.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    subject_id INTEGER,
    actor_id   INTEGER,
    payload    TEXT    NOT NULL DEFAULT '{}',
    created_at TEXT    NOT NULL
);
CREATE INDEX outbox_guild_kind ON outbox (guild_id, kind, id);

CREATE TABLE outbox_cursors (
    consumer TEXT PRIMARY KEY,
    last_id  INTEGER NOT NULL
) WITHOUT ROWID;

-- Timers are rows: poll closes, deadlines, reminders, batched DMs. The dispatcher wakes
-- for the earliest due one; a restart loses nothing.
CREATE TABLE timers (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    due_at     TEXT    NOT NULL,
    payload    TEXT    NOT NULL DEFAULT '{}',
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at    TEXT,
    UNIQUE (kind, key)
);
CREATE INDEX timers_due ON timers (due_at) WHERE done_at IS NULL;
