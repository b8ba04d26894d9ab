"""An idea's image: checked to be a picture, and made to fit the guild's upload limit.

Discord's attachment links are signed and expire, so the bot keeps the image's bytes and
uploads them again with the card. What members attach is read with Pillow: anything that is
not a PNG, JPEG, GIF or WebP picture is refused, and a picture above the guild's upload
limit is scaled down (re-encoded) until it fits.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Final

from bot.domain.errors import DomainError

#: Pillow format → (file extension, content type) of the pictures an idea may carry.
FORMATS: Final = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
}
#: Larger attachments are refused before they are downloaded (Discord's own cap for most
#: members is far below this; it bounds the memory one capture can take).
MAX_SOURCE_BYTES: Final = 25 * 1024 * 1024
#: Larger pictures are refused unread: decoding 40 megapixels takes ~160 MB of memory, and
#: a tiny file can claim billions of pixels (a "decompression bomb").
MAX_PIXELS: Final = 40_000_000
#: Scaling attempts before giving up (each shrinks by the size still to lose, and more).
_MAX_STEPS: Final = 8

NOT_AN_IMAGE = "That attachment is not an image: attach a PNG, JPEG, GIF or WebP picture."


@dataclass(frozen=True, slots=True)
class IdeaImage:
    """A picture ready to upload with an idea's card."""

    data: bytes
    extension: str
    content_type: str
    width: int
    height: int

    def filename(self, stem: str) -> str:
        return f"{stem}.{self.extension}"


def check_declared(filename: str, content_type: str | None, size: int) -> None:
    """Refuse, before downloading it, an attachment that says it is not an image or is too
    large to consider (``DomainError``)."""
    if content_type is not None and not content_type.startswith("image/"):
        raise DomainError("not_an_image", NOT_AN_IMAGE)
    if size > MAX_SOURCE_BYTES:
        raise DomainError(
            "image_too_large",
            f"`{filename[:80]}` is {size / 1048576:.1f} MB; attach an image of at most "
            f"{MAX_SOURCE_BYTES // 1048576} MB.",
        )


def looks_like_image(filename: str, content_type: str | None) -> bool:
    """Whether an attachment announces a picture (the first such is a message's image)."""
    if content_type:
        return content_type.startswith("image/")
    return filename.lower().rsplit(".", 1)[-1] in {"png", "jpg", "jpeg", "gif", "webp"}


def prepare_image(data: bytes, limit: int) -> IdeaImage:
    """``data`` as an :class:`IdeaImage` of at most ``limit`` bytes (scaled down when
    larger). ``DomainError`` when it is not a picture or has too many pixels.

    CPU-bound (decoding, resizing): call it off the event loop."""
    from PIL import Image, UnidentifiedImageError  # lazily: only captures with images pay

    if len(data) > MAX_SOURCE_BYTES:
        raise DomainError("image_too_large", "That image is too large to use.")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt, (width, height) = probe.format, probe.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DomainError("not_an_image", NOT_AN_IMAGE) from None
    if fmt not in FORMATS:
        raise DomainError("not_an_image", NOT_AN_IMAGE)
    if width * height > MAX_PIXELS:
        raise DomainError(
            "image_too_large",
            f"That image is {width}×{height} pixels; attach one of at most "
            f"{MAX_PIXELS // 1_000_000} megapixels.",
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a truncated or corrupt file fails here, not at upload
            extension, content_type = FORMATS[fmt]
            if len(data) <= limit:
                return IdeaImage(data, extension, content_type, width, height)
            return _scale_down(image, len(data), limit)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise DomainError("not_an_image", NOT_AN_IMAGE) from None


def _scale_down(image: object, size: int, limit: int) -> IdeaImage:
    """Re-encode ``image`` smaller until it fits ``limit``: JPEG, or PNG when it has
    transparency (an animated GIF keeps its first frame)."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
    frame = image.convert("RGBA" if alpha else "RGB")
    extension, content_type, fmt = (
        ("png", "image/png", "PNG") if alpha else ("jpg", "image/jpeg", "JPEG")
    )
    width, height = frame.size
    # Encoded size scales roughly with the pixel count: shrink both sides by the square
    # root of what must go, with a margin; repeat while it still does not fit.
    scale = math.sqrt(limit / size) * 0.9
    for _ in range(_MAX_STEPS):
        w, h = max(1, int(width * scale)), max(1, int(height * scale))
        out = io.BytesIO()
        resized = frame.resize((w, h), Image.Resampling.LANCZOS)
        if fmt == "JPEG":
            resized.save(out, fmt, quality=85, optimize=True)
        else:
            resized.save(out, fmt, optimize=True)
        encoded = out.getvalue()
        if len(encoded) <= limit:
            return IdeaImage(encoded, extension, content_type, w, h)
        scale *= math.sqrt(limit / len(encoded)) * 0.9
    raise DomainError("image_too_large", "That image could not be made small enough to post.")
