-- Discord shows the store's truth: what each idea card last showed, who submitted each idea
-- and when its source was posted (the cooldown compares posting times, not handling times).

-- Who submitted the idea: its author, or the member who used "Capture as idea" on someone
-- else's message. The submission cooldown and blocks apply to this member.
ALTER TABLE ideas ADD COLUMN submitted_by INTEGER;
-- When the source was posted (the message's snowflake time); when submitted otherwise.
-- Catch-up after downtime handles many messages within milliseconds: the cooldown must
-- compare the times members posted them.
ALTER TABLE ideas ADD COLUMN posted_at TEXT;
-- card_version grows with every change the card shows; card_shown is the version the card
-- in Discord displays. They differ while an edit is pending (or was lost to a crash): at
-- start, such cards are edited again instead of rescanning every card.
ALTER TABLE ideas ADD COLUMN card_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ideas ADD COLUMN card_shown INTEGER NOT NULL DEFAULT 0;
UPDATE ideas SET submitted_by = author_id, posted_at = created_at;

CREATE INDEX ideas_cooldown ON ideas (guild_id, submitted_by, posted_at);
CREATE INDEX ideas_card_stale ON ideas (guild_id)
    WHERE card_message_id IS NOT NULL AND card_version <> card_shown;

-- Any change of what a card shows bumps its version. The vote path bumps it in its own
-- UPDATE (cheaper than this trigger's second UPDATE); the WHEN clause then skips it.
CREATE TRIGGER ideas_card_version AFTER UPDATE OF
    title, body, kind, status, status_reason, support, oppose, merged_into, flag, author_id
    ON ideas
    WHEN new.card_version = old.card_version
BEGIN
    UPDATE ideas SET card_version = card_version + 1 WHERE id = new.id;
END;
-- Tags and contributors are shown too, and live in their own tables.
CREATE TRIGGER idea_tags_card_insert AFTER INSERT ON idea_tags BEGIN
    UPDATE ideas SET card_version = card_version + 1 WHERE id = new.idea_id;
END;
CREATE TRIGGER idea_tags_card_delete AFTER DELETE ON idea_tags BEGIN
    UPDATE ideas SET card_version = card_version + 1 WHERE id = old.idea_id;
END;
CREATE TRIGGER idea_contributors_card_insert AFTER INSERT ON idea_contributors BEGIN
    UPDATE ideas SET card_version = card_version + 1 WHERE id = new.idea_id;
END;
CREATE TRIGGER idea_contributors_card_delete AFTER DELETE ON idea_contributors BEGIN
    UPDATE ideas SET card_version = card_version + 1 WHERE id = old.idea_id;
END;
