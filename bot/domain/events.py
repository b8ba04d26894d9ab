"""Domain events: what the outbox carries from one feature to the others.

Each event is written to the ``outbox`` table in the same transaction as the change it
describes (``bot.storage.common.emit_event``): ``kind`` is one of the constants below,
``subject_id`` the idea id, ``actor_id`` who acted, ``payload`` the JSON fields listed.
Consumers (points, digests, challenges) read in id order and remember their position, so a
restart neither loses nor repeats an event. Payload fields are only ever added, never
renamed, so old rows stay readable.
"""

from __future__ import annotations

from typing import Final

#: An idea was stored. payload: author_id, kind, source ("message"|"forum"|"modal"|"menu"),
#: contributors (ids credited besides the author, e.g. the member who captured it).
IDEA_SUBMITTED: Final = "idea.submitted"

#: A member's vote on an idea changed. payload: author_id, voter_id, value (+1 support,
#: -1 oppose), previous (0 when there was no vote, else +1/-1).
IDEA_VOTE_CAST: Final = "idea.vote_cast"

#: A member took their vote back. payload: author_id, voter_id, previous (+1/-1).
IDEA_VOTE_RETRACTED: Final = "idea.vote_retracted"

#: An idea's status changed (hiding, un-hiding and withdrawing included). payload:
#: author_id, old, new, reason (or null), contributors.
IDEA_STATUS_CHANGED: Final = "idea.status_changed"

#: An idea was merged into another. subject_id = source. payload: target_id,
#: source_author_id, target_author_id, moved_voters (ids whose vote moved to the target).
IDEA_MERGED: Final = "idea.merged"

#: A merge was undone. subject_id = source. payload: target_id, restored_voters.
IDEA_UNMERGED: Final = "idea.unmerged"

#: A member posted in an idea's discussion thread for the first time. payload: author_id
#: (the idea's), member_id.
IDEA_COMMENTED: Final = "idea.commented"

#: Everything about a member in a guild was forgotten. actor_id = the member.
MEMBER_FORGOTTEN: Final = "member.forgotten"
