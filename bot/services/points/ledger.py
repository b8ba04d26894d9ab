"""The one write every award path shares: pay an award once per key, within its cap.

Functions here run inside a write unit (they take its :data:`~bot.storage.Tx`): the key
check, the cap read, the ledger entry and the totals upsert happen in one transaction,
so no caller ever reads a balance and writes it back.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain import points as rules_mod
from bot.domain.points import CAP_GROUP, AwardKind, PointsRules
from bot.domain.points_model import AwardResult, AwardStatus
from bot.storage import Tx
from bot.storage import points as repo
from bot.storage.points import NewEntry, ts

#: (guild, member) pairs whose totals changed: their reward roles may be owed a change.
Changed = set[tuple[int, int]]


def pay(
    tx: Tx,
    rules: PointsRules,
    *,
    guild_id: int,
    member_id: int | None,
    kind: AwardKind,
    delta: int,
    key: str,
    reason: str,
    source_kind: str,
    source_id: int | None,
    actor_id: int | None,
    at: datetime,
    capped: bool = True,
) -> AwardResult:
    """Check the key and the cap, append the entry, update totals and the counter."""
    if not member_id:
        return AwardResult("skipped", 0)
    group = CAP_GROUP.get(kind) if capped else None
    day = rules_mod.day_key(at)
    used_before, used = repo.precheck(tx, guild_id, key, member_id, group, day)
    if used_before:
        return AwardResult("duplicate", member_id)
    granted = rules_mod.capped_delta(delta, used, rules.cap(group)) if group else delta
    withheld = delta - granted
    when = ts(at)
    entry_id = repo.insert_entry(
        tx,
        NewEntry(
            guild_id,
            member_id,
            granted,
            kind.value,
            reason if not withheld else f"{reason} (daily cap reached)",
            source_kind,
            source_id,
            key,
            actor_id,
            withheld,
            when,
        ),
    )
    if entry_id is None:
        return AwardResult("duplicate", member_id)
    if granted:
        counted = {group.value: granted} if group is not None and granted > 0 else None
        repo.add_to_totals(tx, guild_id, member_id, granted, when, day, counted)
    status: AwardStatus = "capped" if withheld else "awarded"
    return AwardResult(status, member_id, granted, withheld, entry_id)


def reverse_source(
    tx: Tx,
    rules: PointsRules,
    guild_id: int,
    source_kind: str,
    source_id: int,
    key_prefix: str,
    reason: str,
    actor_id: int | None,
    at: datetime,
) -> list[AwardResult]:
    """Take back what a source (an idea, a poll...) stands at, per member and kind, under
    keys ``<key_prefix>:<member>:<kind>`` (so doing it twice takes nothing twice)."""
    results = []
    for member, kind, net in repo.net_by_member_and_kind(tx, guild_id, source_kind, source_id):
        results.append(
            pay(
                tx,
                rules,
                guild_id=guild_id,
                member_id=member,
                kind=AwardKind(kind),
                delta=-net,
                key=f"{key_prefix}:{member}:{kind}",
                reason=reason,
                source_kind=source_kind,
                source_id=source_id,
                actor_id=actor_id,
                at=at,
                capped=False,
            )
        )
    return results
