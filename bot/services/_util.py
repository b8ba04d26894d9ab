"""Helpers shared by services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.domain.errors import DomainError
from bot.errors import InvalidInput

#: More pages than any list has. Page numbers come back in custom_ids, which a member can
#: forge: clamped to this, a page's row offset always fits SQLite's 64-bit integers.
MAX_PAGE = 1_000_000_000


def clamp_page(page: int, first: int = 1) -> int:
    """``page`` within ``first`` .. :data:`MAX_PAGE` (a page past the end stays past it)."""
    return min(max(first, page), MAX_PAGE)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Re-raise a DomainError from the rules as the InvalidInput users are shown."""
    try:
        yield
    except DomainError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None
