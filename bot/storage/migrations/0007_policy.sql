-- Policy changes discussed before they take effect: the policy with its dates and the
-- response, members' stances (one each), their numbered concerns (grouped at close) and
-- staff's answer per concern group. Every date is a timer row (see bot/services/policy.py).
-- Times are ISO-8601 UTC text.

CREATE TABLE policies (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    number             INTEGER NOT NULL,          -- policy #number within the guild
    title              TEXT    NOT NULL,
    summary            TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    stage              TEXT    NOT NULL DEFAULT 'draft' CHECK (stage IN
                       ('draft', 'announced', 'closed', 'responded', 'effective', 'withdrawn')),
    author_id          INTEGER NOT NULL,          -- the staff member who drafted it; 0 forgotten
    effective_at       TEXT    NOT NULL,
    close_at           TEXT,                      -- chosen as a date, or set when announced
    period_seconds     INTEGER,                   -- chosen as a length from announcing
    notify_role_id     INTEGER,
    affected_channels  TEXT    NOT NULL DEFAULT '[]',  -- JSON list of channel ids
    announced_at       TEXT,
    closed_at          TEXT,
    responded_at       TEXT,
    settled_at         TEXT,                      -- in effect, or withdrawn
    awaiting           INTEGER NOT NULL DEFAULT 0,     -- effective date passed, no response
    decision           TEXT    CHECK (decision IN ('proceed', 'amend', 'withdraw')),
    amended_body       TEXT,
    response_note      TEXT,
    responder_id       INTEGER,
    card_channel_id    INTEGER,
    card_message_id    INTEGER,
    thread_id          INTEGER,
    -- card_version grows with every change the card shows; card_shown is what Discord shows.
    card_version       INTEGER NOT NULL DEFAULT 0,
    card_shown         INTEGER NOT NULL DEFAULT 0,
    support            INTEGER NOT NULL DEFAULT 0,
    concerned          INTEGER NOT NULL DEFAULT 0,
    oppose             INTEGER NOT NULL DEFAULT 0,
    concerns           INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    UNIQUE (guild_id, number)
);
CREATE INDEX policies_stale_cards ON policies (guild_id)
    WHERE card_message_id IS NOT NULL AND card_version <> card_shown;
CREATE INDEX policies_author ON policies (guild_id, author_id);

CREATE TABLE policy_stances (
    policy_id  INTEGER NOT NULL REFERENCES policies (id),
    guild_id   INTEGER NOT NULL,
    member_id  INTEGER NOT NULL,
    stance     TEXT    NOT NULL CHECK (stance IN ('support', 'concerned', 'oppose')),
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (policy_id, member_id)
) WITHOUT ROWID;
CREATE INDEX policy_stances_member ON policy_stances (guild_id, member_id);

CREATE TABLE policy_concerns (
    id         INTEGER PRIMARY KEY,
    policy_id  INTEGER NOT NULL REFERENCES policies (id),
    guild_id   INTEGER NOT NULL,
    number     INTEGER NOT NULL,                  -- concern #number within the policy
    author_id  INTEGER NOT NULL,                  -- staff see it, members never; 0 forgotten
    text       TEXT    NOT NULL,
    suggestion TEXT    NOT NULL DEFAULT '',
    group_no   INTEGER,                           -- set when the comment period closes
    idea_id    INTEGER,                           -- the idea staff made of it
    created_at TEXT    NOT NULL,
    UNIQUE (policy_id, number)
);
CREATE INDEX policy_concerns_author ON policy_concerns (guild_id, author_id);
CREATE UNIQUE INDEX policy_concerns_idea ON policy_concerns (idea_id) WHERE idea_id IS NOT NULL;

CREATE TABLE policy_answers (
    policy_id  INTEGER NOT NULL REFERENCES policies (id),
    guild_id   INTEGER NOT NULL,
    group_no   INTEGER NOT NULL,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('changed', 'heard')),
    text       TEXT    NOT NULL,
    actor_id   INTEGER NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (policy_id, group_no)
) WITHOUT ROWID;
