-- The digest's trailing-12-month responsiveness computed in SQL instead of reading a
-- year of ideas into Python (bot/storage/digests.py, span_stats): indexes kept in the
-- order the medians walk, and the counts they need, each a scan of one narrow index.
-- Plans are checked in tests/integration/test_digests.py.

-- Answered ideas in order of time to first response / to decision (days): a median is
-- the entry at the middle offset; "answered within the target" is a range of it.
-- Hidden and withdrawn ideas are not in them (the rates leave them out); the trailing
-- columns make them covering (SQLite still checks the partial index's terms per row).
CREATE INDEX ideas_response_time ON ideas
    (guild_id, (julianday(first_response_at) - julianday(created_at)), created_at, status,
     first_response_at)
    WHERE first_response_at IS NOT NULL AND status NOT IN ('hidden', 'withdrawn');
CREATE INDEX ideas_decision_time ON ideas
    (guild_id, (julianday(decided_at) - julianday(created_at)), created_at, status, decided_at)
    WHERE decided_at IS NOT NULL AND status NOT IN ('hidden', 'withdrawn');
-- Ideas with no first response yet: those counted by the rates, and the overdue list's
-- (still 'new', or waiting in the review queue), each a narrow covering range.
CREATE INDEX ideas_unanswered ON ideas (guild_id, created_at, status, first_response_at)
    WHERE first_response_at IS NULL AND status NOT IN ('hidden', 'withdrawn');
CREATE INDEX ideas_overdue ON ideas (guild_id, created_at, status, first_response_at)
    WHERE first_response_at IS NULL AND status IN ('new', 'pending_review');
-- Decisions by kind: the implementation rate counts a year of 'implemented' only.
CREATE INDEX idea_events_decided ON idea_events (guild_id, new_status, created_at, idea_id)
    WHERE kind = 'status';
