-- Ideas' images and outgoing webhooks.

-- An idea's image, kept as bytes: Discord's attachment links are signed and expire, so the
-- card re-uploads the image from here whenever it is posted again. In the database rather
-- than files under the data dir: stored in the same transaction as its idea (no orphan or
-- missing file after a crash), deleted with it, and backed up with everything else. Each is
-- at most the guild's upload limit (scaled down before it is stored).
CREATE TABLE idea_images (
    idea_id      INTEGER PRIMARY KEY REFERENCES ideas (id) ON DELETE CASCADE,
    guild_id     INTEGER NOT NULL,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    created_at   TEXT    NOT NULL
);
-- The file name the card's embed shows (attachment://<image_name>); NULL: no image.
ALTER TABLE ideas ADD COLUMN image_name TEXT;

-- Outgoing webhooks: a server's automations receive idea events as signed JSON.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL,             -- JSON list of event names
    secret      TEXT    NOT NULL,             -- HMAC-SHA256 key, shown once at creation
    created_by  INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    -- Only outbox events after this one are sent (a new webhook gets no history).
    since_event INTEGER NOT NULL DEFAULT 0,
    failures    INTEGER NOT NULL DEFAULT 0,   -- consecutive failed attempts
    disabled_at TEXT,
    removed_at  TEXT
);
CREATE INDEX webhooks_guild ON webhooks (guild_id) WHERE removed_at IS NULL;

-- One row per event per webhook: delivered at least once from a timer row (kind
-- "webhooks.deliver", key "delivery:<id>") written in the same transaction.
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    webhook_id   INTEGER NOT NULL REFERENCES webhooks (id),
    guild_id     INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER,
    last_error   TEXT,
    created_at   TEXT    NOT NULL,
    finished_at  TEXT
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
