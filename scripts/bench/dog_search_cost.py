"""What a photo of several dogs costs an upload search: the encoder's ``/encode?dogs=1`` of the
photo (what every upload search pays), then ``/encode`` of each dog's crop in one batch (what
``search_api/dogs.py`` adds for photos of several dogs), in one run, printed as JSON::

    python -m scripts.bench.dog_search_cost --data ../shared/data/stanford-dogs-sample --photos 8

The photos are two official *train* photos of different breeds side by side (one dog each),
as the page's browser tests make them; only those where the localiser finds two dogs count.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
from pathlib import Path

from encoder.app import create_app
from encoder.config import EncoderSettings
from encoder.model import load_encoder
from scripts.bench.localise import photo_bench_parser, train_photos
from scripts.bench.localise_cost import timed_encode
from search_api.dogs import crop_box
from services.imaging import crop_fraction
from tests.support.real_photos import side_by_side


def two_dog_photos(data: Path, count: int) -> list[bytes]:
    """``count`` JPEGs, each the i-th one-dog train photo of two breeds side by side."""
    by_breed: dict[str, list[Path]] = {}
    for file, boxes in train_photos(data, 0):
        if len(boxes) == 1:
            by_breed.setdefault(file.breed, []).append(file.path)
    breeds = sorted(by_breed)
    out = []
    for i in range(count):
        left, right = breeds[i % len(breeds)], breeds[(i + 1) % len(breeds)]
        both = side_by_side([by_breed[breed][i // len(breeds)] for breed in (left, right)])
        buffer = io.BytesIO()
        both.save(buffer, format="JPEG", quality=92)
        out.append(buffer.getvalue())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = photo_bench_parser(__doc__, arch="efficientnet_lite0", checkpoint=False)
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    encoder = load_encoder(args.arch, device="cpu")
    settings = EncoderSettings(
        arch=args.arch, localise="cam", threads=args.threads, backend="torch"
    )
    app = create_app(settings, encoder)
    client = app.test_client()
    localised, crops, dogs_found = [], [], []
    try:
        for data in two_dog_photos(args.data, args.photos):
            took, answer = timed_encode(client, [data], dogs=True)
            dogs = answer["results"][0].get("dogs", [])
            dogs_found.append(len(dogs))
            if len(dogs) < 2:
                continue
            pngs = [crop_fraction(data, crop_box(tuple(dog["box"]))) for dog in dogs]
            localised.append(took)
            crops.append(timed_encode(client, pngs, dogs=False)[0])
    finally:
        app.extensions["encoding"].stop()
    report = {
        "arch": encoder.info.arch,
        "threads": args.threads,
        "photos": len(dogs_found),
        "with_several_dogs_found": len(localised),
        "encode_ms_median_localised": round(statistics.median(localised), 1),
        "encode_ms_median_crops": round(statistics.median(crops), 1),
        "ratio_crops_to_localised": round(
            statistics.median(crops) / statistics.median(localised), 2
        ),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
