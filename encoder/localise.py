"""Where the dogs are in a photo, from the classifier itself (no detector weights needed).

A map of "dog" over the photo: the ImageNet classifier applied at each location of the last
feature map (:mod:`encoder.spatial`), softmaxed there, and its probability mass on the 120
breeds summed: a class activation map of the breed classes that reads as a probability. The
map is upsampled, cut at ``threshold``, and each connected region becomes one dog, boxed
(``margin`` widens the box a little: the map is coarse, 32 pixels a cell, and tends to keep
to the dog's middle). A region is kept when its peak reaches ``min_score`` and it covers at
least ``min_area`` of the photo. The thresholds are chosen on the official train split of
Stanford Dogs only (``scripts/bench/localise.py``; README, "Dogs in a photo").

:mod:`encoder.detector` is the alternative where detection weights can be had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from encoder.spatial import SpatialNet, spatial_net
from encoder.understanding import imagenet_breed_indices
from services.encoder_wire import FoundDog as Dog
from services.imaging import widen

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the photo


@dataclass(frozen=True)
class LocaliseSettings:
    longest: int = 384  # the photo's longer side for the map (pixels)
    upsample: int = 4  # cells of the cut map per feature-map cell
    threshold: float = 0.3
    min_score: float = 0.6
    min_area: float = 0.03
    seed: float = 0.95  # a higher cut that splits touching dogs apart (1: never split)
    margin: float = 0.0  # fraction of the box's own size added on each side
    max_dogs: int = 8


def dog_map(spatial: SpatialNet, images: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` -> ``[N, h, w]``: the probability of "dog" at each location."""
    logits = spatial.logits_map(spatial.features(images))
    breeds = torch.as_tensor(imagenet_breed_indices(), device=logits.device)
    return torch.softmax(logits, dim=1)[:, breeds].sum(dim=1)


def _regions(mask: np.ndarray) -> list[np.ndarray]:
    """Boolean ``[h, w]`` -> the cells ``[(y, x), ...]`` of each 4-connected region."""
    seen = np.zeros_like(mask, dtype=bool)
    regions = []
    height, width = mask.shape
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        stack, cells = [start], []
        while stack:
            y, x = stack.pop()
            cells.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        regions.append(np.asarray(cells))
    return regions


def boxes_from_map(heat: np.ndarray, settings: LocaliseSettings) -> list[Dog]:
    """One :class:`Dog` per region of ``heat`` (``[h, w]`` in [0, 1]), most sure first."""
    fine = torch.nn.functional.interpolate(
        torch.as_tensor(heat, dtype=torch.float32)[None, None],
        scale_factor=settings.upsample,
        mode="bilinear",
        align_corners=False,
    )[0, 0].numpy()
    height, width = fine.shape
    least = settings.min_area * height * width
    dogs = []
    for region in _regions(fine >= settings.threshold):
        for cells in _split(region, fine, settings.seed, least):
            score = float(fine[cells[:, 0], cells[:, 1]].max())
            if score < settings.min_score or len(cells) < least:
                continue
            top, left = cells.min(axis=0)
            bottom, right = cells.max(axis=0) + 1
            box = (
                float(left / width),
                float(top / height),
                float(right / width),
                float(bottom / height),
            )
            dogs.append(Dog(widen(box, settings.margin), score))
    dogs.sort(key=lambda dog: -dog.score)
    return dogs[: settings.max_dogs]


def _split(region: np.ndarray, fine: np.ndarray, seed: float, least: float) -> list[np.ndarray]:
    """Two dogs side by side make one region at the cut, but two peaks: where the region holds
    several separate areas at the higher cut ``seed``, each of at least ``least`` cells, each
    cell of the region goes to the nearest such area, one dog each."""
    if seed >= 1:
        return [region]
    mask = np.zeros(fine.shape, dtype=bool)
    mask[region[:, 0], region[:, 1]] = True
    seeds = [s for s in _regions(mask & (fine >= seed)) if len(s) >= least]
    if len(seeds) < 2:
        return [region]
    distances = np.stack(
        [np.min(((region[:, None, :] - s[None, :, :]) ** 2).sum(axis=2), axis=1) for s in seeds]
    )
    owner = distances.argmin(axis=0)
    return [region[owner == i] for i in range(len(seeds))]


class CamLocaliser:
    """Finds dogs with the encoder's own classifier; ``name`` is what ``/info`` reports."""

    name = "cam"

    def __init__(self, spatial: SpatialNet, settings: LocaliseSettings | None = None):
        self.spatial = spatial
        self.settings = settings or LocaliseSettings()

    def heat(self, image: Image.Image) -> np.ndarray:
        tensor = self.spatial.tensor(image, self.settings.longest)
        return dog_map(self.spatial, tensor[None])[0].cpu().numpy()

    def __call__(self, image: Image.Image) -> list[Dog]:
        """The dogs in ``image`` (upright, any size), most sure first; the score is the peak
        probability of "dog" in the dog's region."""
        return boxes_from_map(self.heat(image), self.settings)


def choose_localiser(kind: str, encoder) -> Callable[[Image.Image], list[Dog]] | None:
    """``ENCODER_LOCALISE``: ``cam`` (this module), ``detector`` (:mod:`encoder.detector`,
    which raises ``WeightsUnavailable`` with what to do when offline) or ``off`` (None)."""
    if kind == "off":
        return None
    if kind == "detector":
        from encoder.detector import DetectorLocaliser

        return DetectorLocaliser(encoder.device)
    return CamLocaliser(spatial_net(encoder))
