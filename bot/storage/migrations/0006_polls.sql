-- Polls and outcome surveys (one table: their ids share one sequence, so participation
-- award keys `participation:<poll>:<member>` never collide between the two).
-- Times are ISO-8601 UTC text.

CREATE TABLE polls (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    creator_id       INTEGER NOT NULL,          -- 0: a forgotten member
    kind             TEXT    NOT NULL DEFAULT 'poll' CHECK (kind IN ('poll', 'survey')),
    question         TEXT    NOT NULL,
    options          TEXT    NOT NULL,          -- JSON list of option texts (or outcomes)
    mode             TEXT    NOT NULL DEFAULT 'single'
                     CHECK (mode IN ('single', 'multi', 'ranked')),
    max_picks        INTEGER NOT NULL DEFAULT 1,
    anonymous        INTEGER NOT NULL DEFAULT 0,
    hide_results     INTEGER NOT NULL DEFAULT 0,
    eligible_role_id INTEGER,
    native           INTEGER NOT NULL DEFAULT 0,
    idea_ids         TEXT    NOT NULL DEFAULT '[]',  -- a poll over ideas: idea per option
    -- Anonymous polls: the HMAC key ballots are filed under. Erased at close, after which
    -- no one (not even the bot) can tell whose ballot is whose.
    ballot_key       BLOB,
    created_at       TEXT    NOT NULL,
    closes_at        TEXT    NOT NULL,
    closed_at        TEXT,
    closed_late      INTEGER NOT NULL DEFAULT 0,
    message_id       INTEGER,
    results_message_id INTEGER,
    native_counts    TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX polls_open ON polls (guild_id, closes_at) WHERE closed_at IS NULL;
CREATE INDEX polls_guild ON polls (guild_id, id);
CREATE INDEX polls_message ON polls (message_id) WHERE message_id IS NOT NULL;

-- One ballot per voter and poll. `voter` is the member id (as text) for named polls and
-- the hex HMAC of it under the poll's key for anonymous ones; no time is kept (it would
-- let the points ledger's entry times point at an anonymous ballot). WITHOUT ROWID keyed
-- by voter: rows sit in key order, not in the order members voted.
CREATE TABLE poll_ballots (
    poll_id  INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    voter    TEXT    NOT NULL,
    guild_id INTEGER NOT NULL,
    answer   TEXT    NOT NULL,   -- JSON: option indexes (ranked: best first) or survey ratings
    PRIMARY KEY (poll_id, voter)
) WITHOUT ROWID;
