"""Why two photos match: a heat map on each of the regions that made their looks similar.

The look part of the vector is the average of the last feature map (:mod:`encoder.spatial`),
so the cosine of two looks is the average over one photo's locations of each location's
feature against the other photo's pooled look, divided by both norms. That term at each
location is the heat: it sums exactly to the look similarity, so hot means "this region is
what resembles the other photo", not a guess. Negative terms (regions that pull the photos
apart) are cut to 0 for display. Checked with a pointing game on Stanford Dogs' boxes
(``scripts/bench/pointing.py``; README, "Why this matches").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from encoder.spatial import SpatialNet

LONGEST = 384  # the longer side the maps are computed at, pixels (as localisation)


@dataclass
class HeatMap:
    """``grid[row][col]`` in [0, 1] (1 at the hottest cell) over the whole photo, and the
    hottest point as fractions of the photo's width and height."""

    grid: np.ndarray  # [rows, cols]
    peak: tuple[float, float]

    def to_dict(self) -> dict:
        rows, cols = self.grid.shape
        return {
            "rows": rows,
            "cols": cols,
            "grid": [[round(float(v), 3) for v in row] for row in self.grid],
            "peak": [round(self.peak[0], 4), round(self.peak[1], 4)],
        }


def _heat(features: torch.Tensor, other_pooled: torch.Tensor) -> HeatMap:
    """``features`` ``[C, h, w]`` against the other photo's pooled look ``[C]``."""
    _, rows, cols = features.shape
    pooled = features.mean(dim=(1, 2))
    scale = pooled.norm() * other_pooled.norm() * rows * cols
    terms = torch.einsum("chw,c->hw", features, other_pooled) / scale.clamp(min=1e-12)
    grid = terms.clamp(min=0).cpu().numpy()
    row, col = np.unravel_index(int(np.argmax(grid)), grid.shape)
    peak = ((col + 0.5) / cols, (row + 0.5) / rows)
    top = float(grid.max())
    return HeatMap(grid / top if top > 0 else grid, peak)


def explain(spatial: SpatialNet, first: Image.Image, second: Image.Image) -> dict:
    """``{"similarity": look cosine, "heat": [first's map, second's map]}``."""
    maps = [spatial.features(spatial.tensor(image, LONGEST)[None])[0] for image in (first, second)]
    pooled = [features.mean(dim=(1, 2)) for features in maps]
    similarity = torch.nn.functional.cosine_similarity(pooled[0], pooled[1], dim=0)
    return {
        "similarity": round(float(similarity), 4),
        "heat": [
            _heat(maps[0], pooled[1]).to_dict(),
            _heat(maps[1], pooled[0]).to_dict(),
        ],
    }
