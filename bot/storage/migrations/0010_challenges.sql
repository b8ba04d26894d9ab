-- Challenges: focused, time-boxed idea campaigns. A challenge with its four window ends
-- (each a timer row, see bot/services/challenges.py), its weighted criteria, its entries
-- (an ordinary idea attached to the challenge, with its stage), judges' scorecards (private
-- until the challenge is published) and mentors. Times are ISO-8601 UTC text.

CREATE TABLE challenges (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    number           INTEGER NOT NULL,            -- challenge #number within the guild
    title            TEXT    NOT NULL,
    problem          TEXT    NOT NULL,            -- the job to be done or pain point
    good_answer      TEXT    NOT NULL,            -- what a good answer looks like
    author_id        INTEGER NOT NULL,            -- 0 once forgotten
    phase            TEXT    NOT NULL DEFAULT 'submissions' CHECK (phase IN
                     ('submissions', 'screening', 'shortlisting', 'judging', 'closed',
                      'published')),
    submission_end   TEXT    NOT NULL,
    screening_end    TEXT    NOT NULL,
    shortlist_end    TEXT    NOT NULL,
    judging_end      TEXT    NOT NULL,
    finalist_points  INTEGER NOT NULL,
    winner_points    INTEGER NOT NULL,
    forum_channel_id INTEGER,                     -- announced as a forum post when set
    channel_id       INTEGER,                     -- where the announcement and results go
    message_id       INTEGER,                     -- the announcement (Submit an idea button)
    wildcard_idea_id INTEGER,                     -- chosen once, when judging closes
    published_at     TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    UNIQUE (guild_id, number)
);
CREATE INDEX challenges_guild_phase ON challenges (guild_id, phase);

CREATE TABLE challenge_criteria (
    challenge_id INTEGER NOT NULL REFERENCES challenges (id),
    guild_id     INTEGER NOT NULL,                -- every row names its guild (purges)
    position     INTEGER NOT NULL,                -- 0..3, the order of the judge's form
    name         TEXT    NOT NULL,
    weight       INTEGER NOT NULL CHECK (weight > 0),
    PRIMARY KEY (challenge_id, position)
) WITHOUT ROWID;

CREATE TABLE challenge_entries (
    idea_id      INTEGER PRIMARY KEY REFERENCES ideas (id),  -- an idea is in one challenge
    challenge_id INTEGER NOT NULL REFERENCES challenges (id),
    guild_id     INTEGER NOT NULL,
    stage        TEXT    NOT NULL DEFAULT 'submitted' CHECK (stage IN
                 ('submitted', 'screened', 'shortlisted', 'finalist', 'winner', 'not_selected')),
    wildcard     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX challenge_entries_challenge ON challenge_entries (challenge_id, stage);
CREATE INDEX challenge_entries_guild_created ON challenge_entries (guild_id, created_at);

-- One scorecard per judge and idea (changeable until judging closes); the scores are a
-- JSON list in criteria order. judge_id is 0 once the judge is forgotten (the score stays).
CREATE TABLE challenge_scores (
    id           INTEGER PRIMARY KEY,
    idea_id      INTEGER NOT NULL REFERENCES ideas (id),
    challenge_id INTEGER NOT NULL REFERENCES challenges (id),
    guild_id     INTEGER NOT NULL,
    judge_id     INTEGER NOT NULL,
    scores       TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    updated_at   TEXT    NOT NULL
);
CREATE UNIQUE INDEX challenge_scores_judge ON challenge_scores (idea_id, judge_id)
    WHERE judge_id <> 0;
CREATE INDEX challenge_scores_challenge ON challenge_scores (challenge_id, idea_id);
CREATE INDEX challenge_scores_guild_judge ON challenge_scores (guild_id, judge_id);

CREATE TABLE challenge_mentors (
    id           INTEGER PRIMARY KEY,
    idea_id      INTEGER NOT NULL REFERENCES ideas (id),
    challenge_id INTEGER NOT NULL REFERENCES challenges (id),
    guild_id     INTEGER NOT NULL,
    mentor_id    INTEGER NOT NULL,                -- 0 once forgotten
    actor_id     INTEGER NOT NULL,
    thread_id    INTEGER,                         -- the private thread, once created
    created_at   TEXT    NOT NULL
);
CREATE UNIQUE INDEX challenge_mentors_pair ON challenge_mentors (idea_id, mentor_id)
    WHERE mentor_id <> 0;
CREATE INDEX challenge_mentors_guild ON challenge_mentors (guild_id, mentor_id);
