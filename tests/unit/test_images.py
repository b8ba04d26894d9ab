"""An idea's image: pictures accepted, other files refused, large pictures scaled down to
the guild's upload limit."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from bot.domain.errors import DomainError
from bot.domain.images import (
    MAX_SOURCE_BYTES,
    check_declared,
    looks_like_image,
    prepare_image,
)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    # Random pixels do not compress: the encoded size is close to the pixel data.
    return Image.frombytes(mode, (width, height), os.urandom(width * height * len(mode)))


def test_a_picture_within_the_limit_is_kept_as_it_is() -> None:
    data = _encoded(Image.new("RGB", (40, 30), (1, 2, 3)), "PNG")
    image = prepare_image(data, limit=len(data))
    assert (image.data, image.extension, image.content_type) == (data, "png", "image/png")
    assert (image.width, image.height) == (40, 30)


def test_a_picture_above_the_limit_is_scaled_down_to_fit() -> None:
    data = _encoded(_noise(400, 300), "PNG")
    limit = len(data) // 5
    image = prepare_image(data, limit=limit)
    assert len(image.data) <= limit
    assert image.extension == "jpg"
    assert image.width < 400 and image.height < 300
    assert abs(image.width / image.height - 400 / 300) < 0.05  # the aspect is kept
    assert Image.open(io.BytesIO(image.data)).size == (image.width, image.height)


def test_transparency_survives_scaling_as_png() -> None:
    data = _encoded(_noise(200, 200, "RGBA"), "PNG")
    image = prepare_image(data, limit=len(data) // 3)
    assert image.extension == "png" and len(image.data) <= len(data) // 3
    assert Image.open(io.BytesIO(image.data)).mode == "RGBA"


@pytest.mark.parametrize(
    "data", [b"", b"hello world", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 30]
)
def test_what_is_not_a_picture_is_refused(data: bytes) -> None:
    with pytest.raises(DomainError) as caught:
        prepare_image(data, limit=10_000_000)
    assert caught.value.code == "not_an_image"


def test_a_format_outside_the_accepted_ones_is_refused() -> None:
    data = _encoded(Image.new("RGB", (8, 8)), "BMP")
    with pytest.raises(DomainError) as caught:
        prepare_image(data, limit=10_000_000)
    assert caught.value.code == "not_an_image"


def test_too_many_pixels_is_refused_without_decoding() -> None:
    data = _encoded(Image.new("1", (7000, 7000)), "PNG")  # 49 MP, a few kB
    with pytest.raises(DomainError) as caught:
        prepare_image(data, limit=10_000_000)
    assert caught.value.code == "image_too_large"


def test_declared_types_and_sizes_are_checked_before_download() -> None:
    check_declared("a.png", "image/png", 1000)
    with pytest.raises(DomainError, match="not an image"):
        check_declared("a.txt", "text/plain", 10)
    with pytest.raises(DomainError) as caught:
        check_declared("big.png", "image/png", MAX_SOURCE_BYTES + 1)
    assert caught.value.code == "image_too_large"
    assert looks_like_image("x.JPG", None) and not looks_like_image("x.pdf", None)
    assert looks_like_image("noext", "image/webp") and not looks_like_image("a.png", "text/plain")
