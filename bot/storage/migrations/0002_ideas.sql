-- Ideas: captured ideas, their votes, followers, contributors, history, merges, member
-- blocks, queued follower notices, per-channel catch-up cursors and full-text search.

CREATE TABLE ideas (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    number             INTEGER NOT NULL,            -- shown as #number within the guild
    kind               TEXT    NOT NULL DEFAULT 'idea',
    title              TEXT    NOT NULL,
    body               TEXT    NOT NULL DEFAULT '',
    author_id          INTEGER NOT NULL,            -- 0: a former member
    status             TEXT    NOT NULL DEFAULT 'new',
    status_reason      TEXT,
    hidden_from        TEXT,                        -- the status before it was hidden
    merged_into        INTEGER REFERENCES ideas (id),
    source             TEXT    NOT NULL,            -- message | forum | modal | menu
    source_channel_id  INTEGER,
    source_message_id  INTEGER,
    card_channel_id    INTEGER,
    card_message_id    INTEGER,
    thread_id          INTEGER,
    support            INTEGER NOT NULL DEFAULT 0,  -- maintained with idea_votes
    oppose             INTEGER NOT NULL DEFAULT 0,
    flag               TEXT,                        -- e.g. "source deleted"
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    first_response_at  TEXT,
    decided_at         TEXT,
    UNIQUE (guild_id, number)
);
-- A source message is captured once, whatever replays or catch-ups deliver it again.
CREATE UNIQUE INDEX ideas_source ON ideas (guild_id, source_message_id)
    WHERE source_message_id IS NOT NULL;
CREATE INDEX ideas_guild_status ON ideas (guild_id, status, created_at);
CREATE INDEX ideas_guild_author ON ideas (guild_id, author_id, created_at);
CREATE INDEX ideas_card ON ideas (card_message_id) WHERE card_message_id IS NOT NULL;
CREATE INDEX ideas_thread ON ideas (thread_id) WHERE thread_id IS NOT NULL;

CREATE TABLE idea_tags (
    idea_id  INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    guild_id INTEGER NOT NULL,
    tag      TEXT    NOT NULL,
    PRIMARY KEY (idea_id, tag)
) WITHOUT ROWID;
CREATE INDEX idea_tags_guild ON idea_tags (guild_id, tag);

CREATE TABLE idea_votes (
    idea_id    INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL,
    guild_id   INTEGER NOT NULL,
    value      INTEGER NOT NULL CHECK (value IN (-1, 1)),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (idea_id, member_id)
) WITHOUT ROWID;
CREATE INDEX idea_votes_member ON idea_votes (guild_id, member_id);
CREATE INDEX idea_votes_recent ON idea_votes (guild_id, updated_at, idea_id);

CREATE TABLE idea_followers (
    idea_id   INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL,
    guild_id  INTEGER NOT NULL,
    PRIMARY KEY (idea_id, member_id)
) WITHOUT ROWID;
CREATE INDEX idea_followers_member ON idea_followers (guild_id, member_id);

CREATE TABLE idea_contributors (
    idea_id   INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL,
    guild_id  INTEGER NOT NULL,
    role      TEXT    NOT NULL,                     -- capturer | merged_author
    PRIMARY KEY (idea_id, member_id)
);  -- a rowid table: contributors are listed in the order they were credited

CREATE TABLE idea_events (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    idea_id    INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    actor_id   INTEGER,
    old_status TEXT,
    new_status TEXT,
    reason     TEXT,
    detail     TEXT,
    created_at TEXT    NOT NULL
);
CREATE INDEX idea_events_idea ON idea_events (idea_id, id);

-- What a merge moved, so that unmerge restores exactly what was there.
CREATE TABLE idea_merges (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    source_id  INTEGER NOT NULL REFERENCES ideas (id),
    target_id  INTEGER NOT NULL REFERENCES ideas (id),
    actor_id   INTEGER NOT NULL,
    snapshot   TEXT    NOT NULL,                    -- JSON: rows before the merge
    created_at TEXT    NOT NULL,
    undone_at  TEXT
);
CREATE INDEX idea_merges_source ON idea_merges (source_id) WHERE undone_at IS NULL;

CREATE TABLE member_blocks (
    guild_id   INTEGER NOT NULL,
    member_id  INTEGER NOT NULL,
    until_at   TEXT,                                -- NULL: until unblocked
    reason     TEXT    NOT NULL,
    actor_id   INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, member_id)
) WITHOUT ROWID;

-- Member preferences for follower DMs (default off: followers read the thread).
CREATE TABLE member_prefs (
    guild_id     INTEGER NOT NULL,
    member_id    INTEGER NOT NULL,
    follower_dms INTEGER NOT NULL DEFAULT 0,
    last_dm_at   TEXT,
    PRIMARY KEY (guild_id, member_id)
) WITHOUT ROWID;

-- Status changes waiting to be sent to followers in a batched DM (≤ 1 per member per hour).
CREATE TABLE idea_notices (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    member_id  INTEGER NOT NULL,
    idea_id    INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    old_status TEXT    NOT NULL,
    new_status TEXT    NOT NULL,
    reason     TEXT,
    created_at TEXT    NOT NULL,
    sent_at    TEXT
);
CREATE INDEX idea_notices_pending ON idea_notices (guild_id, member_id) WHERE sent_at IS NULL;

-- Members who posted in an idea's thread (an idea.commented event is emitted once each).
CREATE TABLE idea_comments (
    idea_id   INTEGER NOT NULL REFERENCES ideas (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL,
    guild_id  INTEGER NOT NULL,
    first_at  TEXT    NOT NULL,
    PRIMARY KEY (idea_id, member_id)
) WITHOUT ROWID;

-- The newest message seen per watched channel, for catching up after downtime.
CREATE TABLE channel_cursors (
    guild_id        INTEGER NOT NULL,
    channel_id      INTEGER PRIMARY KEY,
    last_message_id INTEGER NOT NULL
);

CREATE VIRTUAL TABLE ideas_fts USING fts5 (
    title, body, content = 'ideas', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER ideas_fts_insert AFTER INSERT ON ideas BEGIN
    INSERT INTO ideas_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER ideas_fts_delete AFTER DELETE ON ideas BEGIN
    INSERT INTO ideas_fts (ideas_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER ideas_fts_update AFTER UPDATE OF title, body ON ideas BEGIN
    INSERT INTO ideas_fts (ideas_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO ideas_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
