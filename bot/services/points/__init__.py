"""Contribution points: awards, the outbox projector, standings and seasons.

Callers see one class, :class:`PointsService` (``services.points``). Inside, each job is
a small collaborator the service composes and hands its calls to:

- ``rules.py``     — :class:`RulesCache`: each guild's :class:`~bot.domain.points.PointsRules`;
- ``ledger.py``    — ``pay``: the one write every path shares (key, cap, entry, totals);
- ``pipeline.py``  — :class:`AwardPipeline`: awards made at the same moment share a unit;
- ``awards.py``    — :class:`DirectAwards`: ✅ helpful answers, polls, policies,
  challenges, adjustments, reversals;
- ``projector.py`` — :class:`OutboxProjector`: applies the ideas' domain events;
- ``queries.py``   — :class:`PointsQueries`: totals, ranks, boards, role rewards,
  seasons and forgetting;
- ``service.py``   — the façade.

Why composition rather than mixins: each collaborator names what it needs in its
constructor (the database, the rules, the clock, the pipeline), so a reader sees every
dependency of a job in one file, and a test can build one job alone. Mixins would share
one ``self``: any mixin could reach any other's state, and which attribute comes from
where would be known only by reading them all. The façade costs one delegating call per
method: on the award path that is lost in the noise (measured, CPU per award unchanged).

Every change is one write unit: the award key is checked, the cap read, the ledger entry
appended and the totals and cap counters updated in the same transaction. The writer runs
units one after another, so concurrent awards cannot race past a cap, and no code ever
reads a balance and writes it back. Facts that cost a Discord request (who asked a
question, which roles a member holds) come in as lazy sources of ids the service reads
only when a rule needs them; the rules themselves are pure functions in
:mod:`bot.domain.points`, the records handed back in :mod:`bot.domain.points_model`.

Award keys (unique per guild; a replayed event or a double click is a no-op):

- ``idea_submitted:<idea>`` to the author;
- ``vote:<pair>:<n>`` where ``pair`` is the (idea, voter) row and ``n`` counts its
  changes: the pair pays at most one award at any time, so toggling nets 0 or 1;
- ``idea_planned:<idea>:<member>`` / ``idea_implemented:<idea>:<member>`` to the author and
  each contributor, once per idea whatever the status does afterwards;
- ``hide:<idea>:<h>:<member>:<kind>`` reverses what a hidden idea stood at (h-th hiding),
  ``unhide:…`` with the same tail restores exactly that;
- ``helpful:<message>`` (``…:<n>`` once n payments were taken back by
  ``helpful_undo:<message>:<n>``), ``participation:<poll>:<member>``,
  ``policy_feedback:<policy>:<member>``, ``challenge_<place>:<challenge>:<member>``,
  ``adjust:<interaction>``, ``reverse:<key>:<member>:<kind>``.

Keys name at most the recipient, and forgetting a member rewrites those keys.
"""

from bot.services.points.projector import CONSUMER
from bot.services.points.service import PointsService

__all__ = ["CONSUMER", "PointsService"]
