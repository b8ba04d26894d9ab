"""Discord-shaped API errors: HTTP status, Discord's numeric code and message."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Discord API error, rendered as ``{"message": ..., "code": ...}``."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def to_json(self) -> dict[str, Any]:
        """The response body Discord would send."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def unknown(what: str, code: int) -> ApiError:
    """A 404 for an unknown object (``Unknown Channel`` 10003, ``Unknown Message`` 10008...)."""
    return ApiError(404, code, f"Unknown {what}")


def missing_access() -> ApiError:
    """403 50001: the channel is not visible to the caller."""
    return ApiError(403, 50001, "Missing Access")


def missing_permissions() -> ApiError:
    """403 50013: a permission (or the role hierarchy) forbids the action."""
    return ApiError(403, 50013, "Missing Permissions")
