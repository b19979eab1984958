"""A pointing game for the "why does it match" heat maps (:mod:`encoder.explain`), printed as
JSON: for pairs of annotated photos of one breed, is each photo's hottest point inside one of
its dogs' boxes? The photo's centre point is scored beside it, as the baseline a map that
knew nothing would get. Official *train* split only::

    python -m scripts.bench.pointing --data ../shared/data/stanford-dogs-sample --pairs 300
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import defaultdict

from PIL import Image

from encoder.explain import explain
from encoder.localise import Box
from encoder.model import load_encoder
from encoder.spatial import spatial_net
from scripts.bench.localise import photo_bench_parser, train_photos


def inside(point: tuple[float, float], boxes: list[Box]) -> bool:
    x, y = point
    return any(left <= x <= right and top <= y <= bottom for left, top, right, bottom in boxes)


def main(argv: list[str] | None = None) -> int:
    parser = photo_bench_parser(__doc__)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    encoder = load_encoder(args.arch, checkpoint=args.checkpoint or None, device="cpu")
    spatial = spatial_net(encoder)
    by_breed = defaultdict(list)
    for file, boxes in train_photos(args.data, 0):
        by_breed[file.breed].append((file, boxes))
    rng = random.Random(args.seed)
    breeds = sorted(by_breed)
    hits = centre_hits = maps = 0
    started = time.perf_counter()
    for _ in range(args.pairs):
        (a, a_boxes), (b, b_boxes) = rng.sample(by_breed[rng.choice(breeds)], 2)
        answer = explain(spatial, Image.open(a.path), Image.open(b.path))
        for heat, boxes in zip(answer["heat"], (a_boxes, b_boxes), strict=True):
            hits += inside(tuple(heat["peak"]), boxes)
            centre_hits += inside((0.5, 0.5), boxes)
            maps += 1
    seconds = time.perf_counter() - started
    report = {
        "split": "train",
        "arch": encoder.info.arch,
        "weights": encoder.info.weights,
        "pairs": args.pairs,
        "maps": maps,
        "peak_inside_box": round(hits / max(maps, 1), 3),
        "centre_inside_box": round(centre_hits / max(maps, 1), 3),
        "explain_ms_per_pair": round(seconds * 1000 / max(args.pairs, 1), 1),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
