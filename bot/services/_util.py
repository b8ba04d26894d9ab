"""Helpers shared by services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.domain.errors import DomainError
from bot.errors import InvalidInput


@contextmanager
def domain_errors() -> Iterator[None]:
    """Re-raise a DomainError from the rules as the InvalidInput users are shown."""
    try:
        yield
    except DomainError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None
