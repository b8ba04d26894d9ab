-- Ideas: the review queue (ideas held as `pending_review` until a moderator approves or
-- rejects them) and anonymous ideas (the card says "a member"; the author is still stored,
-- credited and notified, and shown to moderators, each look written to the mod log).

-- The card and every public message leave the author out. Revealing (the author's
-- choice) sets it back to 0 and bumps card_version in the same UPDATE (the card trigger
-- lists the columns it watches; this one is not among them, and the trigger is not
-- recreated here).
ALTER TABLE ideas ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;

-- The moderators' queue (status = 'pending_review', oldest first) needs no index of its
-- own: ideas_guild_status (guild_id, status, created_at) answers it without a sort.
