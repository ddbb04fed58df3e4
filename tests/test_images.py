"""Image loading: every odd Pillow mode becomes RGB; bad files become one clear ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from nstcore import ImageError, StyleConfig, load_image, prepare_images
from nstcore.errors import capped_path
from nstcore.images import resize_long_side


def _png(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kwargs.pop("format", "PNG"), **kwargs)
    return buf.getvalue()


def test_rgba_is_flattened_onto_white() -> None:
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    img.putpixel((0, 0), (0, 0, 255, 255))
    out = load_image(_png(img))
    assert out.mode == "RGB"
    assert out.getpixel((1, 1)) == (255, 255, 255) and out.getpixel((0, 0)) == (0, 0, 255)


def test_la_and_palette_with_transparency() -> None:
    la = Image.new("LA", (3, 3), (100, 0))
    assert load_image(_png(la)).getpixel((0, 0)) == (255, 255, 255)
    p = Image.new("P", (3, 3), 1)
    p.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    p.info["transparency"] = 0
    p.putpixel((0, 0), 0)
    out = load_image(_png(p, transparency=0))
    assert out.getpixel((0, 0)) == (255, 255, 255) and out.getpixel((1, 1)) == (10, 200, 30)


def test_grey_cmyk_and_bilevel() -> None:
    assert load_image(_png(Image.new("L", (2, 2), 77))).getpixel((0, 0)) == (77, 77, 77)
    cmyk = load_image(_png(Image.new("CMYK", (2, 2), (0, 255, 255, 0)), format="JPEG"))
    r, g, b = cmyk.getpixel((0, 0))
    assert r > 200 and g < 60 and b < 60
    assert load_image(_png(Image.new("1", (2, 2), 1))).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    arr = np.array([[0, 32768], [65535, 1000]], dtype=np.uint16)
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    out = np.asarray(load_image(_png(img)))
    assert out[0, 0, 0] == 0 and out[1, 0, 0] == 255 and 120 < out[0, 1, 0] < 135 and out[1, 1, 0] <= 5


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (6, 2), (0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = load_image(_png(img, exif=exif))
    assert out.size == (2, 6)
    assert out.getpixel((1, 0)) == (255, 0, 0)  # the red corner moved to the top right


@pytest.mark.parametrize(
    "data,needle",
    [
        (b"", "empty"),
        (b"this is a text file, not a picture", "not an image"),
    ],
)
def test_non_images_are_refused(data: bytes, needle: str) -> None:
    with pytest.raises(ImageError, match=needle):
        load_image(data, name="upload.png")


def test_truncated_file_is_refused() -> None:
    rng = np.random.default_rng(0)
    data = _png(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), format="JPEG")
    with pytest.raises(ImageError, match="truncated"):
        load_image(data[: len(data) // 2], name="half.jpg")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    data = _png(Image.new("L", (4000, 3000)))  # 12 MP of zeros compresses to a few kB
    assert len(data) < 100_000
    with pytest.raises(ImageError, match="megapixels"):
        load_image(data, max_pixels=10_000_000)
    assert load_image(data, max_pixels=20_000_000).size == (4000, 3000)


def test_missing_path_names_the_file(tmp_path) -> None:
    with pytest.raises(ImageError, match="nope.png"):
        load_image(tmp_path / "nope.png")


def test_resize_keeps_aspect_and_upscales() -> None:
    assert resize_long_side(Image.new("RGB", (400, 100)), 128).size == (128, 32)
    assert resize_long_side(Image.new("RGB", (10, 20)), 64).size == (32, 64)


def test_thin_strip_is_refused_with_a_reason_and_tiny_image_upscaled() -> None:
    config = StyleConfig(size=512, weights="random")
    strip = Image.new("RGB", (4000, 8), (10, 20, 30))
    with pytest.raises(ImageError, match="too thin"):
        prepare_images(config, strip, strip)
    prepared = prepare_images(config, Image.new("RGB", (1, 1), (200, 0, 0)), Image.new("RGB", (1, 1)))
    assert prepared.content.size == (512, 512)
    # Layers before the first pooling need only one pixel: the same strip is fine for conv1_1 + conv1_2.
    shallow = config.replace(content_layers={"conv1_2": 1.0}, style_layers={"conv1_1": 1.0})
    assert prepare_images(shallow, strip, strip).content.size == (512, 1)


def test_a_long_missing_path_keeps_its_file_name(tmp_path) -> None:
    """A path over the cap gives way at its front, not at its file name (a deep temporary folder, as under a
    parallel test run, read ".../nope.p…" and named no file)."""
    deep = tmp_path / ("folder-with-a-long-name-" * 4)
    with pytest.raises(ImageError) as info:
        load_image(deep / "nope.png")
    message = str(info.value)
    assert message.startswith("…") and "nope.png: no such file" in message
    assert len(message.split(":")[0]) == 80
    assert capped_path("short/cat.png", 80) == "short/cat.png"
    assert capped_path("a\nb/\u202ecat.png", 80) == "a b/cat.png"  # folded, controls gone
