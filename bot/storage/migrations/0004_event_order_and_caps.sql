-- Outbox ids must never be reused: consumers keep a cursor (the last id they applied) and
-- vote pairs remember the last event that set them. Without AUTOINCREMENT, SQLite hands
-- out max(id) + 1, so purging a guild or a member whose events were the newest would
-- give the next event an id a cursor has already passed, and it would never be applied.
CREATE TABLE outbox_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    subject_id INTEGER,
    actor_id   INTEGER,
    payload    TEXT    NOT NULL DEFAULT '{}',
    created_at TEXT    NOT NULL
);
INSERT INTO outbox_new (id, guild_id, kind, subject_id, actor_id, payload, created_at)
    SELECT id, guild_id, kind, subject_id, actor_id, payload, created_at FROM outbox;
-- Ids already handed out stay used even if their rows are gone (a purge before this ran).
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbox_new', MAX(last_id) FROM outbox_cursors
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox_new')
    HAVING MAX(last_id) IS NOT NULL;
UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(last_id), 0) FROM outbox_cursors))
    WHERE name = 'outbox_new';
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_guild_kind ON outbox (guild_id, kind, id);

-- The outbox event that last set a vote pair's standing. Replaying the outbox from an older
-- cursor (a lost cursor) then leaves the pair alone instead of applying a stale vote over
-- a later merge, so a replay always ends where the first reading did.
ALTER TABLE points_vote_pairs ADD COLUMN event_id INTEGER NOT NULL DEFAULT 0;

-- Daily cap counters move into the member's totals row: the upsert that adds an award to
-- the totals now counts it against the cap in the same statement, instead of a second
-- upsert into a table of its own (measured: that table cost more per award than the
-- totals). Only the current day's counters can limit anything, so a row keeps one day:
-- an award on a later day starts the counters again from 0.
ALTER TABLE points_totals ADD COLUMN cap_day TEXT NOT NULL DEFAULT '';
ALTER TABLE points_totals ADD COLUMN cap_votes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE points_totals ADD COLUMN cap_ideas INTEGER NOT NULL DEFAULT 0;
ALTER TABLE points_totals ADD COLUMN cap_helpful INTEGER NOT NULL DEFAULT 0;
ALTER TABLE points_totals ADD COLUMN cap_participation INTEGER NOT NULL DEFAULT 0;
UPDATE points_totals SET cap_day = COALESCE(
    (SELECT MAX(d.day) FROM points_daily d
     WHERE d.guild_id = points_totals.guild_id AND d.member_id = points_totals.member_id), '');
UPDATE points_totals SET
    cap_votes = COALESCE((SELECT used FROM points_daily d WHERE d.guild_id = points_totals.guild_id
        AND d.day = points_totals.cap_day AND d.cap_group = 'votes'
        AND d.member_id = points_totals.member_id), 0),
    cap_ideas = COALESCE((SELECT used FROM points_daily d WHERE d.guild_id = points_totals.guild_id
        AND d.day = points_totals.cap_day AND d.cap_group = 'ideas'
        AND d.member_id = points_totals.member_id), 0),
    cap_helpful = COALESCE((SELECT used FROM points_daily d
        WHERE d.guild_id = points_totals.guild_id AND d.day = points_totals.cap_day
        AND d.cap_group = 'helpful' AND d.member_id = points_totals.member_id), 0),
    cap_participation = COALESCE((SELECT used FROM points_daily d
        WHERE d.guild_id = points_totals.guild_id AND d.day = points_totals.cap_day
        AND d.cap_group = 'participation' AND d.member_id = points_totals.member_id), 0)
WHERE cap_day != '';
DROP TABLE points_daily;
