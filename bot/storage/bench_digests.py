"""SQL for the digests benchmark and its tests: seeding a guild's history in bulk, and the
digest's reads run on a plain ``sqlite3`` connection (the baseline the service is divided
by). Kept here so that ``bot/bench`` holds no SQL: storage is the one place for it.

Seeding uses ``executemany`` in one transaction, not the services: a year of a large
community in seconds. Everything is spread over ``days`` before ``now``.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from bot.storage import digest_sources as sources
from bot.storage import digests as repo
from bot.storage import points as points_repo
from bot.storage.common import to_iso
from bot.storage.migrations import apply_migrations, load_migrations

_STATUSES = ["new"] * 10 + ["under_review"] * 3 + ["planned"] * 2 + ["implemented", "declined"]
_IDEA_INSERT = (
    "INSERT INTO ideas (id, guild_id, number, title, body, author_id, status, status_reason, "
    "source, support, created_at, updated_at, first_response_at, decided_at) "
    "VALUES (?, ?, ?, ?, '', ?, ?, ?, 'modal', ?, ?, ?, ?, ?)"
)
_VOTE_INSERT = (
    "INSERT OR IGNORE INTO idea_votes (idea_id, member_id, guild_id, value, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_EVENT_INSERT = (
    "INSERT INTO idea_events (guild_id, idea_id, kind, actor_id, old_status, new_status, "
    "reason, created_at) VALUES (?, ?, 'status', ?, 'new', ?, ?, ?)"
)
_COMMENT_INSERT = (
    "INSERT OR IGNORE INTO idea_comments (idea_id, member_id, guild_id, first_at) "
    "VALUES (?, ?, ?, ?)"
)
_LEDGER_INSERT = (
    "INSERT INTO points_ledger (guild_id, member_id, delta, kind, reason, source_kind, "
    "source_id, award_key, withheld, created_at) VALUES (?, ?, ?, ?, 'seed', 'idea', ?, ?, 0, ?)"
)


def migrated(path: Path) -> None:
    """A new database file at ``path`` with every migration applied."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        apply_migrations(conn, load_migrations(), backup_dir=None, db_name=path.stem)
    finally:
        conn.close()


def seed_guild(
    path: Path,
    guild_id: int,
    *,
    ideas: int,
    votes_per_idea: int,
    ledger: int,
    now: datetime,
    days: int = 365,
    members: int | None = None,
    seed: int = 15,
) -> None:
    """``ideas`` ideas (with votes, comments, status changes) and ``ledger`` points
    entries of one guild, spread over the ``days`` before ``now``; then ANALYZE."""
    rng = random.Random(seed)
    base = _max_idea_id(path)
    people = members or max(50, ideas // 4)
    span = days * 86400.0
    idea_rows, votes, events, comments = [], [], [], []
    moments = sorted(rng.random() * span for _ in range(ideas))
    for number, back in enumerate(reversed(moments), start=1):
        i = base + number
        created = now - timedelta(seconds=back)
        status = rng.choice(_STATUSES)
        answered = status != "new" or rng.random() < 0.2
        first = created + timedelta(hours=rng.uniform(1, 400)) if answered else None
        decided = None
        if status in ("planned", "implemented", "declined") and first is not None:
            decided = first + timedelta(hours=rng.uniform(1, 300))
            if decided < now:
                events.append(
                    (guild_id, i, 900, status, "seeded decision", to_iso(decided))
                )  # fmt: skip
            else:
                decided = None
        if first is not None and first > now:
            first = None
        author = 1000 + rng.randrange(people)
        voters = rng.sample(range(people), min(people, votes_per_idea))
        support = 0
        for voter in voters:
            at = created + timedelta(seconds=rng.random() * min(back, 30 * 86400.0))
            value = 1 if rng.random() < 0.9 else -1
            support += value == 1
            votes.append((i, 1000 + voter, guild_id, value, to_iso(at), to_iso(at)))
        if rng.random() < 0.3:
            at = created + timedelta(seconds=rng.random() * min(back, 7 * 86400.0))
            comments.append((i, 1000 + rng.randrange(people), guild_id, to_iso(at)))
        idea_rows.append(
            (
                i, guild_id, number, f"Seeded idea {number}", author, status,
                "not now" if status == "declined" else None, support, to_iso(created),
                to_iso(created), None if first is None else to_iso(first),
                None if decided is None else to_iso(decided),
            )
        )  # fmt: skip
    kinds = ["vote_received"] * 6 + ["idea_submitted", "helpful_answer", "participation"]
    entries = []
    for n in range(ledger):
        at = now - timedelta(seconds=rng.random() * span)
        member = 1000 + rng.randrange(people)
        entries.append(
            (guild_id, member, rng.choice((1, 1, 1, 2, 5)), rng.choice(kinds), n,
             f"seed:{n}", to_iso(at))
        )  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.executemany(_IDEA_INSERT, idea_rows)
        conn.executemany(_VOTE_INSERT, votes)
        conn.executemany(_EVENT_INSERT, events)
        conn.executemany(_COMMENT_INSERT, comments)
        conn.executemany(_LEDGER_INSERT, entries)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _max_idea_id(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM ideas").fetchone()[0])
    finally:
        conn.close()


def plain_connection(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection on ``path``, for the baseline: rows as the service's
    reader gives them (``sqlite3.Row``, which the policy rows are read by name from)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def digest_reads(
    conn: sqlite3.Connection,
    guild_id: int,
    period: tuple[str, str],
    previous: tuple[str, str],
    chart: Sequence[tuple[str, str]],
    *,
    overdue_before: str,
    target_days: float,
    year_start: str,
    innovators_since: str,
    limit: int,
) -> int:
    """The SQL a digest's build runs, in order, on ``conn``: the period's ideas and points
    reads, the previous period's headline reads, the innovators, the chart's periods.
    Returns the number of rows read (so nothing is optimised away). ``overdue_before`` is
    the (past) period's end minus the response target, as the service computes it."""
    start, end = period
    rows = 0
    # The chart's periods first; the period's and the previous one's counts come from
    # them, as the service reads them (once each).
    counted = set()
    for c_start, c_end in chart:
        rows += len(repo.new_ideas(conn, guild_id, c_start, c_end))
        rows += repo.new_votes(conn, guild_id, c_start, c_end) > 0
        counted.add((c_start, c_end))
    decided = repo.decisions(conn, guild_id, start, end)
    implemented = [int(r[3]) for r in decided if r[0] == "implemented"]
    rows += len(decided)
    for a, b in (period, previous):
        if (a, b) not in counted:
            rows += len(repo.new_ideas(conn, guild_id, a, b))
            rows += repo.new_votes(conn, guild_id, a, b) > 0
    rows += len(repo.participants(conn, guild_id, start, end))
    rows += len(repo.top_new_ideas(conn, guild_id, start, end, limit))
    rows += len(repo.vote_gains(conn, guild_id, start, end, limit))
    rows += len(repo.overdue(conn, guild_id, overdue_before, limit)[1])
    due = overdue_before
    rows += repo.span_stats(conn, guild_id, start, end, target_days=target_days, due=due).counted
    rows += repo.span_stats(
        conn, guild_id, year_start, end, target_days=target_days, due=due, trailing=True
    ).counted
    rows += repo.implemented_count(conn, guild_id, year_start, end)
    rows += len(repo.contributors_of(conn, implemented, guild_id))
    rows += len(repo.top_points(conn, guild_id, start, end, limit))
    rows += len(points_repo.innovator_ideas(conn, guild_id, innovators_since))
    rows += len(points_repo.engagement_counts(conn, guild_id, innovators_since))
    p_start, p_end = previous
    rows += len(repo.participants(conn, guild_id, p_start, p_end))
    # The polls and policy sections (bot/services/digest_sources.py), both periods.
    for a, b in ((start, end), (p_start, p_end)):
        rows += len(sources.polls_closed(conn, guild_id, a, b))
        rows += len(sources.poll_participants(conn, guild_id, a, b))
        rows += sources.policy_feedback_count(conn, guild_id, a, b)
        rows += len(sources.policy_participants(conn, guild_id, a, b))
    rows += len(sources.policies_in_stages(conn, guild_id, ("announced",)))
    rows += len(sources.policies_in_stages(conn, guild_id, ("closed",)))
    return rows
