"""Safe image decoding, shared by the encoder, the search API and ingest.

Everything that turns untrusted bytes into pixels goes through :func:`decode_image`, so the
same rules hold everywhere: content sniffing (never the file name), a byte cap, a pixel cap
checked *before* the pixels are decoded (decompression bombs), EXIF orientation applied, the
first frame of animations, and every mode (CMYK, 16-bit, palette with transparency, LA ...)
converted to 8-bit RGB on a white background.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from services.errors import ApiError, InvalidImage

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"})
ORIENTATION_TAG = 0x0112
SWAPS_SIDES = frozenset({5, 6, 7, 8})  # EXIF orientations that rotate by 90 degrees


class ImageTooLarge(ApiError):
    """More bytes than the limit (413)."""

    status = 413
    code = "image_too_large"


class TooManyPixels(ImageTooLarge):
    """More pixels than the limit, whatever the file size (413): a decompression bomb, or a
    photo larger than the service decodes."""

    code = "too_many_pixels"


def megabytes(count: int) -> str:
    return f"{count / 2**20:.1f} MB"


def too_many_bytes(size: int | str, limit: int) -> ImageTooLarge:
    shown = megabytes(int(size)) if str(size).isdigit() else str(size)
    return ImageTooLarge(f"The file is {shown}; the limit is {megabytes(limit)}.")


def too_many_pixels(width: int | None, height: int | None, limit: int) -> TooManyPixels:
    size = "larger than that"
    if width and height:
        size = f"{width} \u00d7 {height} pixels ({width * height / 1e6:.0f} megapixels)"
    return TooManyPixels(f"The photo is {size}; the limit is {limit / 1e6:.0f} megapixels.")


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, upright
    format: str
    width: int  # of the original, upright (after EXIF rotation), even when decoded in draft
    height: int


@dataclass(frozen=True)
class ImageHeader:
    """What the header says, read before any pixel is decoded (the limits already checked)."""

    format: str
    mode: str  # Pillow's: RGB, L, CMYK...
    width: int  # upright (after EXIF rotation)
    height: int
    orientation: int  # EXIF 1..8; 1 is upright
    progressive: bool

    @property
    def plain_jpeg(self) -> bool:
        """A baseline 8-bit RGB or greyscale JPEG: what batched tensor decoders (nvJPEG,
        libjpeg-turbo through torchvision) take as they are. Anything else goes through Pillow."""
        return self.format == "JPEG" and self.mode in ("RGB", "L") and not self.progressive


def read_header(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageHeader:
    """The checks :func:`decode_image` makes before decoding, for decoders other than Pillow:
    the same 4xx errors for the same bytes, no pixel decoded."""
    with _translated_errors(max_pixels):
        return _open_checked(data, max_bytes, max_pixels)[1]


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> DecodedImage:
    """Decode untrusted bytes into an upright RGB image, or raise a 4xx :class:`ApiError`.

    ``draft_size`` lets JPEG decoding skip work (DCT scaling) when the caller only needs at
    least that many pixels per side: a 12-megapixel phone photo decodes ~17x faster at 1/8
    scale. ``image`` is then smaller than the original; ``width``/``height`` stay the original's.
    """
    with _translated_errors(max_pixels):
        image, header = _open_checked(data, max_bytes, max_pixels)
        if draft_size and header.format == "JPEG":
            image.draft("RGB", draft_size)
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    return DecodedImage(image=rgb, format=header.format, width=header.width, height=header.height)


@contextlib.contextmanager
def _translated_errors(max_pixels: int) -> Iterator[None]:
    """Pillow's many exceptions, and its bomb warning, as our 4xx errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels(None, None, max_pixels) from None
    except UnidentifiedImageError:
        raise InvalidImage("the file is not an image we can read") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        # Truncated or corrupt data surfaces as any of these from Pillow's plugins.
        raise InvalidImage(f"the image data is corrupt or truncated ({error})") from None


def _open_checked(data: bytes, max_bytes: int, max_pixels: int) -> tuple[Image.Image, ImageHeader]:
    """The opened image (first frame) and its header, once the byte, format and pixel limits
    hold; Pillow's exceptions are left to :func:`_translated_errors`."""
    if not data:
        raise InvalidImage("the file is empty", code="empty_file")
    if len(data) > max_bytes:
        raise too_many_bytes(len(data), max_bytes)
    image = Image.open(io.BytesIO(data))
    image_format = image.format or ""
    if image_format not in ALLOWED_FORMATS:
        raise InvalidImage(f"unsupported image format {image_format or 'unknown'}")
    width, height = image.size
    if width * height > max_pixels:
        raise too_many_pixels(width, height, max_pixels)
    if width < 1 or height < 1:
        raise InvalidImage("the image has no pixels")
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    tag: Any = image.getexif().get(ORIENTATION_TAG)
    orientation = int(tag) if tag in range(1, 9) else 1  # junk tags: as Pillow does
    if orientation in SWAPS_SIDES:
        width, height = height, width
    progressive = bool(image.info.get("progressive") or image.info.get("progression"))
    header = ImageHeader(image_format, image.mode, width, height, orientation, progressive)
    return image, header


Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the image


def widen(box: Box, margin: float) -> Box:
    """``box`` grown by ``margin`` of its own width and height on each side, within the photo."""
    left, top, right, bottom = box
    dx, dy = (right - left) * margin, (bottom - top) * margin
    return (max(0.0, left - dx), max(0.0, top - dy), min(1.0, right + dx), min(1.0, bottom + dy))


def crop_fraction(data: bytes, box: Box, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The region ``box`` of the upright image as a lossless PNG (a 400 for a bad box)."""
    image = crop_image(decode_image(data, max_pixels=max_pixels).image, box)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def crop_image(image: Image.Image, box: Box) -> Image.Image:
    """The region ``box``, or a 400 when it is empty, outside, or under 8 pixels a side."""
    left, top, right, bottom = box
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise ApiError(
            "box must be left,top,right,bottom fractions with 0 <= left < right <= 1 and "
            "0 <= top < bottom <= 1",
            code="invalid_box",
        )
    pixels = (
        round(left * image.width),
        round(top * image.height),
        round(right * image.width),
        round(bottom * image.height),
    )
    if pixels[2] - pixels[0] < 8 or pixels[3] - pixels[1] < 8:
        raise ApiError("the box is smaller than 8 pixels a side", code="invalid_box")
    return image.crop(pixels)


def upright_size(data: bytes) -> tuple[int, int]:
    """Width and height as shown (EXIF rotation applied), from the header alone."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if image.getexif().get(ORIENTATION_TAG) in SWAPS_SIDES:
            width, height = height, width
    return width, height


def sniff_format(data: bytes) -> str | None:
    """The image format from the header alone (no pixels decoded), or ``None``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB; transparency is composited onto white (what a person sees in a browser)."""
    if image.mode == "RGB":
        image.load()
        return image
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale to 8 bits rather than clip (Pillow's default clips).
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def make_thumbnail(data: bytes, size: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A JPEG thumbnail whose longer side is at most ``size`` pixels."""
    decoded = decode_image(data, max_pixels=max_pixels, draft_size=(size, size))
    thumb = decoded.image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=82, optimize=True, progressive=True)
    return out.getvalue()
