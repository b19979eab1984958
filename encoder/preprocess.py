"""Bytes to model input as tensors on the model's device: one path for the CPU and CUDA.

``torchvision.io.decode_jpeg`` decodes a list of JPEGs at once (nvJPEG on CUDA, libjpeg-turbo
on the CPU, the library Pillow uses); EXIF orientation, the resize of the shorter side to 256
(bilinear with antialiasing, rounded back to 8 bits, as Pillow does), the centre crop and the
normalisation are torch ops on the tensor's device. On the CPU this gives the Pillow path's
pixels (mean difference ~1e-4 after normalising, ``tests/unit/test_preprocess.py``).

Only plain JPEGs take this path (:attr:`services.imaging.ImageHeader.plain_jpeg`); any other
file, and any JPEG the decoder refuses, goes through the Pillow path alone, so one odd file
never fails the batch. The byte, format and pixel limits are checked on the header first,
by :func:`services.imaging.read_header`, before either decoder sees a pixel.

On CUDA each calling thread decodes on a stream of its own, so the images of the next batch
decode while the model thread runs the forward pass of this one on the default stream.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence

import torch
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms.v2 import functional as F

from encoder.model import CROP, RESIZE, Backbone
from services.errors import ApiError
from services.imaging import ImageHeader, read_header

Prepared = tuple[torch.Tensor, int, int]  # [3, CROP, CROP] float32, original width, height
Outcome = Prepared | ApiError
PillowPath = Callable[[bytes], Prepared]  # raises ApiError for a file nobody can decode
DECODERS = ("auto", "tensor", "pillow")


def orient(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """``[C, H, W]`` turned upright for EXIF ``orientation`` (1..8), as
    ``PIL.ImageOps.exif_transpose`` does."""
    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-1, -2)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-1, -2)
    if orientation == 6:
        return image.rot90(-1, (-2, -1))  # clockwise
    if orientation == 7:
        return image.transpose(-1, -2).flip(-1, -2)
    if orientation == 8:
        return image.rot90(1, (-2, -1))  # counter-clockwise
    return image


class TensorPreprocessor:
    """``__call__(files)`` -> one :data:`Outcome` per file, in order, on ``device``."""

    def __init__(
        self,
        backbone: Backbone,
        device: torch.device,
        pillow_path: PillowPath,
        *,
        max_bytes: int,
        max_pixels: int,
    ):
        self.device = device
        self.pillow_path = pillow_path
        self.max_bytes, self.max_pixels = max_bytes, max_pixels
        self.mean = torch.tensor(backbone.mean, device=device).view(3, 1, 1)
        self.std = torch.tensor(backbone.std, device=device).view(3, 1, 1)
        self._local = threading.local()  # one CUDA stream per decoding thread

    def __call__(self, files: Sequence[bytes]) -> list[Outcome]:
        if self.device.type != "cuda":
            return self._prepare_all(files)
        stream = getattr(self._local, "stream", None)
        if stream is None:
            stream = self._local.stream = torch.cuda.Stream(self.device)
        with torch.cuda.stream(stream):
            outcomes = self._prepare_all(files)
        stream.synchronize()
        model_stream = torch.cuda.default_stream(self.device)
        for outcome in outcomes:
            if not isinstance(outcome, ApiError):
                # The model thread reads it on its stream: memory is not reused before that.
                outcome[0].record_stream(model_stream)
        return outcomes

    def _prepare_all(self, files: Sequence[bytes]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(files)
        plain: list[tuple[int, ImageHeader]] = []
        for position, data in enumerate(files):
            try:
                header = read_header(data, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
            except ApiError as error:
                outcomes[position] = error
                continue
            if self._tensor_path_suits(header):
                plain.append((position, header))
            else:
                outcomes[position] = self._pillow(data)
        images = self._decode([files[position] for position, _ in plain])
        for (position, header), image in zip(plain, images, strict=True):
            if image is None or not _matches(image, header):
                outcomes[position] = self._pillow(files[position])
            else:
                tensor = self._to_input(orient(image, header.orientation))
                outcomes[position] = (tensor, header.width, header.height)
        return [outcome for outcome in outcomes if outcome is not None]

    def _tensor_path_suits(self, header: ImageHeader) -> bool:
        if not header.plain_jpeg:
            return False
        # On the CPU, Pillow's DCT scaling decodes a photo twice the needed size or more at
        # 1/2..1/8 scale, ~17x faster for a phone photo; nvJPEG has no such scaling.
        return self.device.type == "cuda" or min(header.width, header.height) < 2 * RESIZE

    def _decode(self, files: list[bytes]) -> list[torch.Tensor | None]:
        """Decoded ``[3, H, W]`` uint8 images; ``None`` where the decoder refused one."""
        if not files:
            return []
        tensors = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in files]
        try:
            return list(self._decode_jpeg(tensors))
        except RuntimeError:
            if len(tensors) == 1:
                return [None]
        # The decoder fails a whole list for one bad file: find it by decoding one at a time.
        return [self._decode([data])[0] for data in files]

    def _decode_jpeg(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 -> torchcodec
            return decode_jpeg(tensors, mode=ImageReadMode.RGB, device=self.device)

    def _to_input(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 ``[3, H, W]`` -> normalised float ``[3, CROP, CROP]``, like the Pillow path:
        shorter side to 256 (bilinear, antialiased, back to 8 bits), centre crop, scale."""
        image = F.resize(
            image, [RESIZE], interpolation=F.InterpolationMode.BILINEAR, antialias=True
        )
        image = F.center_crop(image, [CROP, CROP])
        return (image.float().div_(255) - self.mean) / self.std

    def _pillow(self, data: bytes) -> Outcome:
        try:
            tensor, width, height = self.pillow_path(data)
        except ApiError as error:
            return error
        return tensor.to(self.device, non_blocking=True), width, height


def _matches(image: torch.Tensor, header: ImageHeader) -> bool:
    """The decoder saw the image the header describes (its stored, not upright, size)."""
    height, width = image.shape[-2:]
    if header.orientation in (5, 6, 7, 8):
        width, height = height, width
    return image.shape[0] == 3 and (width, height) == (header.width, header.height)


def wants_tensor_path(requested: str, device: torch.device) -> bool:
    """``auto``: the tensor path everywhere (on the CPU it measures as fast as Pillow's)."""
    if requested not in DECODERS:
        raise ValueError(f"ENCODER_DECODE must be one of {', '.join(DECODERS)}, not {requested!r}")
    return requested != "pillow"
