"""Each dog of a query photo with several: its own crop, its own breed guesses.

The encoder's localiser gives boxes and scores only. A page that outlines two dogs must say
which is which ("the second dog: German shepherd 81 %"), so when a photo holds more than one
dog the crops of all of them are encoded in one more batch (no localisation: ~1 encode per
dog, paid only by photos of several dogs). The crop is the box widened by ``MARGIN`` on each
side, because context helps the classifier (README, "Dogs in a photo"); ``crop`` is also the
region the page sends back as ``box`` to search that dog, so the guesses it shows are those of
the search it starts.
"""

from __future__ import annotations

from typing import Any

from services.encoder_wire import EncodedImage, FoundDog
from services.errors import ApiError
from services.imaging import DEFAULT_MAX_PIXELS, Box, crop_fraction, widen
from services.protocols import Encoder

MARGIN = 0.1  # of the box's own width and height, on each side
GUESSES = 3  # breed guesses per dog
SURE = 0.5  # a crop's breed guess counts towards "dogs of different breeds" from this


def crop_box(box: Box, margin: float = MARGIN) -> Box:
    """``box`` widened by ``margin`` of its size on each side, kept inside the photo, rounded
    as the answer shows boxes (so the page can send it back as it is)."""
    left, top, right, bottom = (round(value, 4) for value in widen(box, margin))
    return left, top, right, bottom


def describe_dogs(
    encoder: Encoder,
    data: bytes,
    dogs: list[FoundDog],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[list[dict[str, Any]], list[EncodedImage | None]]:
    """``query.dogs`` as the answer shows them, and each dog's encoded crop (same order, None
    for a dog whose crop was not encoded).

    One dog or none: the boxes as the encoder gave them and no crops (the whole photo is that
    dog's search). Several: each with ``crop`` and ``predictions`` from its own crop; a crop
    the encoder could not read keeps its box and no guesses."""
    shown = [dog.to_dict() for dog in dogs]
    if len(dogs) < 2:
        return shown, []
    readable: list[tuple[int, Box, bytes]] = []
    for index, found in enumerate(dogs):
        crop = crop_box(found.box)
        try:
            readable.append((index, crop, crop_fraction(data, crop, max_pixels=max_pixels)))
        except ApiError:  # under 8 pixels a side: too small to search on its own
            continue
    crops: list[EncodedImage | None] = [None] * len(dogs)
    if not readable:
        return shown, crops
    _, encoded = encoder.encode([(f"dog-{i}.png", png) for i, (_, _, png) in enumerate(readable)])
    for (index, crop, _), result in zip(readable, encoded, strict=True):
        crops[index] = result if result.ok else None
        shown[index]["crop"] = list(crop)
        shown[index]["predictions"] = [p.to_dict() for p in result.predictions[:GUESSES]]
    return shown, crops


def dog_to_search(crops: list[EncodedImage | None]) -> int | None:
    """Which dog's crop a search of several dogs answers for (from 1), or None: the whole photo.

    Dogs of different breeds, each guessed with at least even odds (``SURE``): the most sure
    dog's crop, because a whole photo of two breeds blurs them into a third. Otherwise the
    whole photo, which ties with the crop on breed top-1 (README, "Dogs in a photo"): dogs of
    one breed, and the stray second box on one dog (0.28 per one-dog photo; the legs of a
    shepherd guessed "Tibetan mastiff 32 %"), which must not turn a search for a photo into a
    search for part of it. The search also keeps the whole photo's results when they start
    with a stored copy of it."""
    breeds = {
        crop.predictions[0].breed
        for crop in crops
        if crop is not None and crop.predictions and crop.predictions[0].probability >= SURE
    }
    first = crops[0] if crops else None
    if len(breeds) < 2 or first is None or first.vector is None:
        return None
    return 1
