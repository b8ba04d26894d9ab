"""Discord's documented body limits: a payload Discord would reject is rejected here too.

Failures are ``400`` with code ``50035 Invalid Form Body`` and Discord's nested ``errors``
object (``{"embeds": {"0": {"title": {"_errors": [{"code": ..., "message": ...}]}}}}``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.sandbox.errors import ApiError

Path = tuple[str | int, ...]
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
#: Flags a bot may set: SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2.
SETTABLE_FLAGS = 4 | 64 | 4096 | 32768


class Errors:
    """Collects field errors and raises one 50035 with all of them."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, value: Any, path: Path, maximum: int, minimum: int = 0) -> None:
        """Check a string's length (when the value is present)."""
        if value is None:
            if minimum:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Must be a string.")
        elif len(value) > maximum:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")
        elif len(value) < minimum:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length.")

    def count(self, items: Any, path: Path, maximum: int, minimum: int = 0) -> list[Any]:
        """Check a list's size; returns the list (empty when it is not one)."""
        if items is None:
            items = []
        if not isinstance(items, list):
            self.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return []
        if len(items) > maximum:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")
        if len(items) < minimum:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length.")
        return items

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def invalid(path: Path, code: str, message: str) -> ApiError:
    """A single-field 50035 error."""
    errors = Errors()
    errors.add(path, code, message)
    return ApiError(400, 50035, "Invalid Form Body", errors.tree)


def message_payload(payload: dict[str, Any], *, has_files: bool, creating: bool) -> None:
    """Validate a message create/edit body (content, embeds, components, poll)."""
    errors = Errors()
    errors.length(payload.get("content"), ("content",), 2000)
    embed_list = errors.count(payload.get("embeds"), ("embeds",), 10)
    total = 0
    for i, embed in enumerate(embed_list):
        total += _embed(errors, embed, ("embeds", i))
    if total > 6000:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    flags = int(payload.get("flags") or 0)
    if flags & ~SETTABLE_FLAGS:
        errors.add(("flags",), "MESSAGE_FLAGS_INVALID", "Invalid message flags")
    components(errors, payload.get("components"), ("components",), v2=bool(flags & 32768))
    if payload.get("poll") is not None:
        _poll(errors, payload["poll"], ("poll",))
    errors.raise_if_any()
    if creating and not (
        payload.get("content")
        or embed_list
        or payload.get("components")
        or payload.get("poll")
        or payload.get("sticker_ids")
        or has_files
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _embed(errors: Errors, embed: Any, path: Path) -> int:
    """Validate one embed; returns the characters it counts towards the 6,000 total."""
    if not isinstance(embed, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return 0
    title, description = embed.get("title"), embed.get("description")
    errors.length(title, (*path, "title"), 256)
    errors.length(description, (*path, "description"), 4096)
    footer, author = embed.get("footer") or {}, embed.get("author") or {}
    errors.length(footer.get("text"), (*path, "footer", "text"), 2048)
    errors.length(author.get("name"), (*path, "author", "name"), 256)
    size = sum(
        len(str(x or "")) for x in (title, description, footer.get("text"), author.get("name"))
    )
    for i, fld in enumerate(errors.count(embed.get("fields"), (*path, "fields"), 25)):
        errors.length(fld.get("name"), (*path, "fields", i, "name"), 256, minimum=1)
        errors.length(fld.get("value"), (*path, "fields", i, "value"), 1024, minimum=1)
        size += len(str(fld.get("name") or "")) + len(str(fld.get("value") or ""))
    return size


def _poll(errors: Errors, poll: Any, path: Path) -> None:
    if not isinstance(poll, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    errors.length((poll.get("question") or {}).get("text"), (*path, "question", "text"), 300, 1)
    for i, answer in enumerate(errors.count(poll.get("answers"), (*path, "answers"), 10, 1)):
        text = (answer.get("poll_media") or {}).get("text")
        errors.length(text, (*path, "answers", i, "poll_media", "text"), 55, 1)
    duration = poll.get("duration", 24)
    if not isinstance(duration, int | float) or not 1 <= duration <= 768:
        errors.add((*path, "duration"), "NUMBER_TYPE_MAX", "Must be between 1 and 768 hours.")


def components(errors: Errors, comps: Any, path: Path, *, v2: bool) -> None:
    """Validate a message's components: 5 action rows of 5 buttons or one select (classic),
    or up to 40 components in total (components v2)."""
    rows = errors.count(comps, path, 40 if v2 else 5)
    seen: set[str] = set()
    if v2:
        if _count_tree(rows) > 40:
            errors.add(path, "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED", "Too many components (40)")
        for i, comp in enumerate(rows):
            _component(errors, comp, (*path, i), seen)
        return
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("type") != 1:
            errors.add(
                (*path, i, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (1,).',
            )
            continue
        _row(errors, row, (*path, i), seen)


def _row(errors: Errors, row: dict[str, Any], path: Path, seen: set[str]) -> None:
    children = errors.count(row.get("components"), (*path, "components"), 5, 1)
    if any(c.get("type") in SELECT_TYPES for c in children) and len(children) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for j, child in enumerate(children):
        if child.get("type") == 1 or child.get("type") not in (2, *SELECT_TYPES):
            errors.add(
                (*path, "components", j, "type"),
                "COMPONENT_TYPE_INVALID",
                "Invalid component type in an action row",
            )
        else:
            _component(errors, child, (*path, "components", j), seen)


def _count_tree(comps: Iterable[Any]) -> int:
    total = 0
    for comp in comps:
        if isinstance(comp, dict):
            total += 1 + _count_tree(comp.get("components") or [])
            total += 1 if comp.get("accessory") else 0
    return total


def _custom_id(errors: Errors, comp: dict[str, Any], path: Path, seen: set[str]) -> None:
    custom_id = comp.get("custom_id")
    errors.length(custom_id, (*path, "custom_id"), 100, 1)
    if isinstance(custom_id, str):
        if custom_id in seen:
            errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)


def _component(errors: Errors, comp: Any, path: Path, seen: set[str]) -> None:
    if not isinstance(comp, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    kind = comp.get("type")
    if kind == 1:
        _row(errors, comp, path, seen)
    elif kind == 2:
        style = comp.get("style")
        if style not in (1, 2, 3, 4, 5, 6):
            errors.add(
                (*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}."
            )
        if style == 5:
            errors.length(comp.get("url"), (*path, "url"), 512, 1)
            if comp.get("custom_id"):
                errors.add(
                    (*path, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_URL_MUTUALLY_EXCLUSIVE",
                    "A custom id and url cannot both be specified",
                )
        elif style != 6:
            _custom_id(errors, comp, path, seen)
        errors.length(comp.get("label"), (*path, "label"), 80)
        if style != 6 and not comp.get("label") and not comp.get("emoji"):
            errors.add(
                path, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or emoji is required"
            )
    elif kind in SELECT_TYPES:
        _custom_id(errors, comp, path, seen)
        errors.length(comp.get("placeholder"), (*path, "placeholder"), 150)
        for key in ("min_values", "max_values"):
            value = comp.get(key)
            if value is not None and not 0 <= int(value) <= 25:
                errors.add((*path, key), "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 0.")
        if kind == 3:
            for k, opt in enumerate(errors.count(comp.get("options"), (*path, "options"), 25, 1)):
                errors.length(opt.get("label"), (*path, "options", k, "label"), 100, 1)
                errors.length(opt.get("value"), (*path, "options", k, "value"), 100, 1)
                errors.length(opt.get("description"), (*path, "options", k, "description"), 100)
    elif kind in (9, 17):  # section, container
        for j, child in enumerate(
            errors.count(comp.get("components"), (*path, "components"), 10, 1)
        ):
            _component(errors, child, (*path, "components", j), seen)
        if isinstance(comp.get("accessory"), dict):
            _component(errors, comp["accessory"], (*path, "accessory"), seen)
    elif kind == 10:
        errors.length(comp.get("content"), (*path, "content"), 4000, 1)
    elif kind not in (11, 12, 13, 14):
        errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", f"Invalid component type {kind!r}")


def modal(data: Any) -> None:
    """Validate a modal (callback type 9): title ≤ 45, custom_id ≤ 100, ≤ 5 rows, inputs ≤ 4000."""
    errors = Errors()
    if not isinstance(data, dict):
        raise invalid(("data",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    errors.length(data.get("title"), ("data", "title"), 45, 1)
    errors.length(data.get("custom_id"), ("data", "custom_id"), 100, 1)
    seen: set[str] = set()
    for i, comp in enumerate(errors.count(data.get("components"), ("data", "components"), 5, 1)):
        path: Path = ("data", "components", i)
        kind = comp.get("type") if isinstance(comp, dict) else None
        if kind == 1:
            inner = errors.count(comp.get("components"), (*path, "components"), 1, 1)
            for child in inner:
                _modal_field(errors, child, (*path, "components", 0), seen, labelled=False)
        elif kind == 18:
            errors.length(comp.get("label"), (*path, "label"), 45, 1)
            errors.length(comp.get("description"), (*path, "description"), 100)
            _modal_field(errors, comp.get("component"), (*path, "component"), seen, labelled=True)
        elif kind == 10:
            errors.length(comp.get("content"), (*path, "content"), 4000, 1)
        else:
            errors.add(
                (*path, "type"), "COMPONENT_TYPE_INVALID", f"Invalid modal component {kind!r}"
            )
    errors.raise_if_any()


def _modal_field(errors: Errors, comp: Any, path: Path, seen: set[str], *, labelled: bool) -> None:
    if not isinstance(comp, dict):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if comp.get("type") in SELECT_TYPES:
        _component(errors, comp, path, seen)
        return
    if comp.get("type") not in (4, 19):
        errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Modals take text inputs and selects")
        return
    _custom_id(errors, comp, path, seen)
    if comp.get("type") == 19:
        return
    if comp.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if not labelled:
        errors.length(comp.get("label"), (*path, "label"), 45, 1)
    errors.length(comp.get("value"), (*path, "value"), 4000)
    errors.length(comp.get("placeholder"), (*path, "placeholder"), 100)
    for key, low in (("min_length", 0), ("max_length", 1)):
        value = comp.get(key)
        if value is not None and not low <= int(value) <= 4000:
            errors.add(
                (*path, key), "NUMBER_TYPE_MAX", f"int value should be <= 4000 and >= {low}."
            )


def autocomplete_choices(data: Any) -> list[dict[str, Any]]:
    """Validate an autocomplete result (callback type 8); returns the choices."""
    errors = Errors()
    choices = errors.count((data or {}).get("choices"), ("data", "choices"), 25)
    for i, choice in enumerate(choices):
        errors.length(choice.get("name"), ("data", "choices", i, "name"), 100, 1)
        value = choice.get("value")
        if isinstance(value, str):
            errors.length(value, ("data", "choices", i, "value"), 100, 1)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors.add(
                ("data", "choices", i, "value"), "BASE_TYPE_REQUIRED", "This field is required"
            )
    errors.raise_if_any()
    return choices
