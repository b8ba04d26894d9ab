"""Errors raised by the pure domain rules.

The domain knows nothing about Discord or the wider ``bot.errors`` family; the service layer
maps a :class:`DomainError` onto a ``UserError`` (same ``code``, same ``message``).
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken by user input.

    ``code`` is stable and machine-readable (tests and the error mapper key on it);
    ``message`` is safe to show to the member who caused it.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"DomainError(code={self.code!r}, message={self.message!r})"
