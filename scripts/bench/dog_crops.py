"""Whole photo or the found dog's crop: which gives the better breed guess? Printed as JSON
for photos of one dog and of several, on the official *train* split only::

    python -m scripts.bench.dog_crops --data ../shared/data/stanford-dogs-sample

For each photo: the breed top-1 of the whole photo, and of the crop around the most confident
dog the localiser finds (widened by ``--margin`` of its size; the whole photo when none is
found). The search keeps the better one per case (README, "Dogs in a photo").
"""

from __future__ import annotations

import json
import sys

import torch
from PIL import Image

from encoder.localise import CamLocaliser
from encoder.model import load_encoder
from encoder.spatial import spatial_net
from scripts.bench.localise import photo_bench_parser, train_photos
from services.dataset import BreedList
from services.imaging import crop_image, widen


def main(argv: list[str] | None = None) -> int:
    parser = photo_bench_parser(__doc__)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    encoder = load_encoder(args.arch, checkpoint=args.checkpoint or None, device="cpu")
    localiser = CamLocaliser(spatial_net(encoder))
    breeds = BreedList.load()
    counts = {"one_dog": [0, 0, 0, 0], "several_dogs": [0, 0, 0, 0]}  # photos, whole, crop, none
    for file, boxes in train_photos(args.data, args.limit):
        image = Image.open(file.path).convert("RGB")
        dogs = localiser(image)
        crop = crop_image(image, widen(dogs[0].box, args.margin)) if dogs else image
        batch = torch.stack([encoder.transform(image), encoder.transform(crop)])
        guesses = encoder.embed(batch).breed_probabilities.argmax(dim=1).tolist()
        label = breeds.index_of(file.breed)
        group = counts["one_dog" if len(boxes) == 1 else "several_dogs"]
        group[0] += 1
        group[1] += guesses[0] == label
        group[2] += guesses[1] == label
        group[3] += not dogs
    report = {
        "split": "train",
        "arch": encoder.info.arch,
        "weights": encoder.info.weights,
        "margin": args.margin,
        **{
            name: {
                "photos": photos,
                "top1_whole": round(whole / max(photos, 1), 3),
                "top1_crop": round(crop / max(photos, 1), 3),
                "no_dog_found": none,
            }
            for name, (photos, whole, crop, none) in counts.items()
        },
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
