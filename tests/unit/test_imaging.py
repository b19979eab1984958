"""Safe decoding: every mode becomes upright 8-bit RGB; bad input is a 4xx with a code."""

import io
import struct
import zlib

import pytest
from PIL import Image

from services.errors import ApiError
from services.imaging import crop_fraction, decode_image, make_thumbnail
from tests.support.synthetic import image_bytes


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("RGB", "JPEG"),
        ("L", "PNG"),
        ("LA", "PNG"),
        ("RGBA", "PNG"),
        ("CMYK", "JPEG"),
        ("I;16", "PNG"),
        ("1", "PNG"),
        ("P", "GIF"),
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("RGB", "TIFF"),
    ],
)
def test_every_mode_decodes_to_rgb(mode, fmt):
    decoded = decode_image(image_bytes(Image.new(mode, (40, 30)), fmt))
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == (40, 30)


def test_sixteen_bit_is_scaled_not_clipped():
    grey = Image.new("I;16", (4, 4), 32768)  # mid-grey in 16 bits
    pixel = decode_image(image_bytes(grey, "PNG")).image.getpixel((0, 0))
    assert pixel == (128, 128, 128)


def test_transparent_palette_is_composited_on_white():
    image = Image.new("P", (8, 8), 0)
    image.putpalette([0, 0, 0] * 256)
    data = image_bytes(image, "PNG", transparency=0)
    assert decode_image(data).image.getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = decode_image(image_bytes(image, "JPEG", exif=exif.tobytes()))
    assert (decoded.width, decoded.height) == (20, 60)


def test_first_frame_of_an_animation():
    frames = [Image.new("RGB", (10, 10), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:])
    red, _green, blue = decode_image(data).image.getpixel((5, 5))
    assert red > 200 and blue < 50


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions: a decompression bomb must fail before decoding."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (b"", "empty_file", 400),
        (b"hello, I am text", "invalid_image", 400),
        (b"<html><body>hi</body></html>", "invalid_image", 400),
        (png_header_only(20000, 20000), "too_many_pixels", 413),
    ],
    ids=["empty", "text", "html", "bomb"],
)
def test_bad_input_is_a_client_error(data, code, status):
    with pytest.raises(ApiError) as caught:
        decode_image(data)
    assert (caught.value.code, caught.value.status) == (code, status)


def test_truncated_jpeg_is_invalid():
    data = image_bytes(Image.new("RGB", (200, 200), (10, 200, 30)), "JPEG")
    with pytest.raises(ApiError) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.code == "invalid_image"


def test_byte_limit():
    with pytest.raises(ApiError) as caught:
        decode_image(image_bytes(Image.new("RGB", (64, 64)), "PNG"), max_bytes=10)
    assert caught.value.status == 413


def test_thumbnail_fits_the_box():
    wide = image_bytes(Image.new("RGB", (800, 400)), "PNG")
    thumb = Image.open(io.BytesIO(make_thumbnail(wide, 256)))
    assert thumb.format == "JPEG" and thumb.size == (256, 128)


def test_draft_decoding_shrinks_pixels_but_reports_the_original_size():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    data = image_bytes(Image.new("RGB", (2400, 1600), (0, 90, 0)), "JPEG", exif=exif.tobytes())
    decoded = decode_image(data, draft_size=(256, 256))
    assert (decoded.width, decoded.height) == (1600, 2400)
    assert decoded.image.size == (400, 600)  # 1/4 scale is the smallest that keeps >= 256
    assert decoded.image.getpixel((10, 10))[1] > 60


def test_crop_fraction_cuts_the_upright_region():
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))  # right half blue
    right = Image.open(io.BytesIO(crop_fraction(image_bytes(image, "PNG"), (0.5, 0, 1, 1))))
    assert right.size == (100, 100) and right.getpixel((50, 50)) == (0, 0, 255)


@pytest.mark.parametrize(
    "box", [(0.5, 0, 0.5, 1), (0.6, 0, 0.4, 1), (-0.1, 0, 1, 1), (0, 0, 1, 1.5), (0, 0, 0.01, 1)]
)
def test_crop_fraction_refuses_empty_tiny_or_outside_boxes(box):
    with pytest.raises(ApiError) as refused:
        crop_fraction(image_bytes(Image.new("RGB", (200, 100)), "PNG"), box)
    assert refused.value.code == "invalid_box" and refused.value.status == 400
