"""Turns uploaded files into :class:`EncodedImage` results: decode, preprocess, batch, predict."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

from encoder.batcher import Batcher
from encoder.config import EncoderSettings
from encoder.model import CROP, RESIZE, Embed, Encoder
from encoder.preprocess import Outcome, TensorPreprocessor, wants_tensor_path
from services.encoder_wire import EncodedImage, FoundDog, Prediction
from services.errors import ApiError
from services.imaging import DecodedImage, decode_image

log = logging.getLogger(__name__)

# unit vector, breed probabilities, dog score (None: the model cannot tell)
Row = tuple[np.ndarray, np.ndarray, float | None]
Localiser = Callable[[Image.Image], list[FoundDog]]  # encoder.localise, encoder.detector


class EncodingService:
    def __init__(
        self,
        encoder: Encoder,
        settings: EncoderSettings,
        embed: Embed | None = None,
        backend: str = "torch",
        localiser: Localiser | None = None,
    ):
        self.encoder = encoder
        self.localiser = localiser  # None: answers carry no "dogs"
        self.embed = embed or encoder.embed
        self.backend = backend
        self.settings = settings
        self.transform = encoder.transform
        self.batcher = Batcher(
            self._run_batch,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            queue_size=settings.queue_size,
        )
        # Pillow and torchvision release the GIL while decoding and resizing, so a pool decodes
        # the images of one request in parallel, and alongside the model thread's forward pass.
        self._decoders = ThreadPoolExecutor(
            settings.decode_threads or os.cpu_count() or 1, thread_name_prefix="decode"
        )
        self.tensor_path = wants_tensor_path(settings.decode, encoder.device)
        # The ONNX backend runs on the CPU whatever the device: its input is made there too.
        self.input_device = encoder.device if backend == "torch" else torch.device("cpu")
        self.tensors = TensorPreprocessor(
            encoder.backbone,
            self.input_device,
            self.preprocess,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_pixels,
        )
        self.warm = False

    @property
    def decoder(self) -> str:
        """How images become tensors, for ``/info``."""
        if not self.tensor_path:
            return "pillow"
        return f"torchvision decode_jpeg on {self.input_device}, Pillow for other files"

    def start(self) -> None:
        """Start the model thread and run one warm-up batch, so the first request is not slow."""
        self.batcher.start()
        warmup = torch.zeros(3, CROP, CROP, device=self.input_device)
        for future in self.batcher.submit([warmup] * min(2, self.settings.max_batch)):
            future.result()
        self.warm = True

    def stop(self) -> None:
        self.batcher.stop()
        self._decoders.shutdown(wait=False, cancel_futures=True)

    def readiness(self) -> dict[str, str | None]:
        return {"model": None if self.warm else "the model is still loading"}

    def _run_batch(self, batch: torch.Tensor) -> list[Row]:
        understood = self.embed(batch)
        vectors = understood.vectors.numpy()
        breeds = understood.breed_probabilities.numpy()
        dogs = understood.dog_scores
        scores = [None] * len(vectors) if dogs is None else [float(d) for d in dogs.numpy()]
        return [(vectors[i], breeds[i], scores[i]) for i in range(len(vectors))]

    def decode(self, data: bytes) -> DecodedImage:
        """The upright photo, within the size limits (a 4xx ``ApiError`` otherwise)."""
        return decode_image(
            data,
            max_bytes=self.settings.max_image_bytes,
            max_pixels=self.settings.max_pixels,
            draft_size=(RESIZE, RESIZE),
        )

    def locate(self, data: bytes) -> list[FoundDog] | None:
        """The dogs in a photo that decoded once already; None when not localising."""
        if self.localiser is None:
            return None
        return self.localiser(self.decode(data).image)

    def preprocess(self, data: bytes) -> tuple[torch.Tensor, int, int]:
        decoded = decode_image(
            data,
            max_bytes=self.settings.max_image_bytes,
            max_pixels=self.settings.max_pixels,
            draft_size=(RESIZE, RESIZE),  # the transform's first step shrinks to 256 anyway
        )
        return self.transform(decoded.image), decoded.width, decoded.height

    def _preprocess_or_error(self, data: bytes) -> Outcome:
        if self.tensor_path:
            return self.tensors([data])[0]
        try:
            return self.preprocess(data)
        except ApiError as error:
            return error

    def _prepare(self, files: Sequence[bytes]) -> list[Outcome]:
        """One outcome per file. nvJPEG takes the request's images in one call; on the CPU the
        pool decodes them in parallel (both decoders release the GIL)."""
        if self.tensor_path and self.input_device.type == "cuda":
            return self.tensors(files)
        if len(files) == 1:  # no pool hop for a single upload: it is the latency path
            return [self._preprocess_or_error(files[0])]
        return list(self._decoders.map(self._preprocess_or_error, files))

    def encode(
        self, files: Sequence[bytes], *, dogs: bool = False
    ) -> tuple[list[EncodedImage], dict[str, float]]:
        """One result per file, in order; a file that fails gets its own error, not the batch.
        ``dogs``: also localise each dog (opt-in: it costs ~3.2x the encode)."""
        started = time.perf_counter()
        results: list[EncodedImage] = [EncodedImage() for _ in files]
        tensors: list[torch.Tensor] = []
        positions: list[int] = []
        with self.batcher.expecting(len(files)):  # until submitted: the batch may wait for them
            outcomes = self._prepare(files)
            for position, outcome in enumerate(outcomes):
                if isinstance(outcome, ApiError):
                    results[position] = EncodedImage(
                        error_code=outcome.code, error_message=outcome.message
                    )
                    continue
                tensor, results[position].width, results[position].height = outcome
                if dogs:
                    results[position].dogs = self.locate(files[position])
                tensors.append(tensor)
                positions.append(position)
            decoded = time.perf_counter()
            futures = self.batcher.submit(tensors)
        for position, future in zip(positions, futures, strict=True):
            vector, breeds, dog_score = future.result()
            results[position].vector = vector
            results[position].predictions = self._top_predictions(breeds)
            results[position].dog_score = None if dog_score is None else round(dog_score, 5)
        finished = time.perf_counter()
        timings = {
            "decode_ms": round((decoded - started) * 1000, 2),
            "encode_ms": round((finished - decoded) * 1000, 2),
        }
        return results, timings

    def _top_predictions(self, probabilities: np.ndarray) -> list[Prediction]:
        top = np.argsort(-probabilities)[: self.settings.top_k_predictions]
        names = self.encoder.class_names
        return [Prediction(names[i], int(i), round(float(probabilities[i]), 5)) for i in top]
