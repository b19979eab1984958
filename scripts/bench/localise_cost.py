"""What localisation costs: ``/encode`` of one photo at a time with ``ENCODER_LOCALISE=off``,
and with ``cam`` both asked for the dogs (``dogs=1``, as an upload search asks) and not (as
ingest), in one run on the same photos, printed as JSON (median milliseconds and ratios)::

    python -m scripts.bench.localise_cost --data ../shared/data/stanford-dogs-sample --photos 30
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time

from encoder.app import create_app
from encoder.config import EncoderSettings
from encoder.model import load_encoder
from scripts.bench.localise import photo_bench_parser, train_photos


def timed_encode(client, files: list[bytes], *, dogs: bool) -> tuple[float, dict]:
    """Milliseconds of one ``/encode`` of ``files`` through an encoder app's test client (no
    HTTP in the way), and its answer; ``dogs``: asked where the dogs are."""
    started = time.perf_counter()
    response = client.post(
        "/encode?dogs=1" if dogs else "/encode",
        data={"image": [(io.BytesIO(data), f"p{i}") for i, data in enumerate(files)]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    return (time.perf_counter() - started) * 1000, response.get_json()


def timings(app, photos: list[bytes], dogs: bool) -> list[float]:
    client = app.test_client()
    return [timed_encode(client, [data], dogs=dogs)[0] for data in photos]


def main(argv: list[str] | None = None) -> int:
    parser = photo_bench_parser(__doc__, arch="efficientnet_lite0", checkpoint=False)
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    photos = [file.path.read_bytes() for file, _ in train_photos(args.data, args.photos)]
    encoder = load_encoder(args.arch, device="cpu")
    results = {}
    for mode in ("off", "cam") * 2:  # interleaved: a shared machine drifts
        settings = EncoderSettings(
            arch=args.arch, localise=mode, threads=args.threads, backend="torch"
        )
        app = create_app(settings, encoder)
        try:
            results.setdefault(mode, []).extend(timings(app, photos, dogs=True))
            if mode == "cam":
                results.setdefault("cam_not_asked", []).extend(timings(app, photos, dogs=False))
        finally:
            app.extensions["encoding"].stop()
    off, cam, not_asked = (statistics.median(results[m]) for m in ("off", "cam", "cam_not_asked"))
    report = {
        "arch": encoder.info.arch,
        "threads": args.threads,
        "photos": len(photos),
        "encode_ms_median_off": round(off, 1),
        "encode_ms_median_cam": round(cam, 1),
        "encode_ms_median_cam_not_asked": round(not_asked, 1),
        "ratio": round(cam / off, 2),
        "ratio_not_asked": round(not_asked / off, 2),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
