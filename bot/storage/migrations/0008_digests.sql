-- Scheduled staff digests: one row per digest posted (or skipped), and the indexes the
-- digest's period queries need (checked with EXPLAIN QUERY PLAN in the tests).

CREATE TABLE digest_runs (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    kind             TEXT    NOT NULL,            -- scheduled | extra (/digest now)
    period_start     TEXT    NOT NULL,
    period_end       TEXT    NOT NULL,
    status           TEXT    NOT NULL,            -- bot.domain.digest_model.RunStatus
    late             INTEGER NOT NULL DEFAULT 0,
    note             TEXT,
    channel_id       INTEGER,
    draft_message_id INTEGER,
    message_ids      TEXT    NOT NULL DEFAULT '[]',
    actor_id         INTEGER,
    created_at       TEXT    NOT NULL,
    published_at     TEXT
);
-- The uniqueness key: a scheduled period is posted (or skipped) exactly once.
CREATE UNIQUE INDEX digest_runs_period ON digest_runs (guild_id, period_start)
    WHERE kind = 'scheduled';
CREATE INDEX digest_runs_guild ON digest_runs (guild_id, id);

CREATE INDEX ideas_guild_created ON ideas (guild_id, created_at, status, support, author_id);
CREATE INDEX ideas_guild_responded ON ideas (guild_id, first_response_at)
    WHERE first_response_at IS NOT NULL;
CREATE INDEX idea_votes_created ON idea_votes (guild_id, created_at, member_id, idea_id, value);
CREATE INDEX idea_comments_recent ON idea_comments (guild_id, first_at, member_id);
CREATE INDEX idea_events_guild_time ON idea_events (guild_id, created_at, new_status)
    WHERE kind = 'status';
