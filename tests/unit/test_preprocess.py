"""The tensor path (torchvision decode, torch resize) against the Pillow path, on the CPU."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from encoder.backbones import get_backbone
from encoder.model import RESIZE, load_encoder
from encoder.preprocess import TensorPreprocessor, orient
from scripts.training.metrics import rank_gallery, summarise
from services.dataset import ImageFile, iter_image_files, load_split
from services.errors import ApiError
from services.imaging import decode_image
from tests.support.synthetic import image_bytes, make_image

BACKBONE = get_backbone("resnet152")
TRANSFORM = BACKBONE.transform()
MAX_PIXELS = 1_000_000  # the bomb below is 2 megapixels


def pillow_path(data: bytes, max_pixels: int = MAX_PIXELS):
    decoded = decode_image(data, max_pixels=max_pixels, draft_size=(RESIZE, RESIZE))
    return TRANSFORM(decoded.image), decoded.width, decoded.height


class CountingPillow:
    """The Pillow path, counting the files that fell back to it."""

    def __init__(self):
        self.calls = 0

    def __call__(self, data: bytes):
        self.calls += 1
        return pillow_path(data)


def preprocessor(fallback=pillow_path) -> TensorPreprocessor:
    return TensorPreprocessor(
        BACKBONE, torch.device("cpu"), fallback, max_bytes=2**22, max_pixels=MAX_PIXELS
    )


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return image_bytes(image, "JPEG", quality=95, exif=exif.tobytes())


def assert_same_pixels(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    # Same libjpeg-turbo, same antialiased bilinear: only rounding differs, a few pixels by 1/255.
    assert ours.shape == theirs.shape == (3, 224, 224)
    assert (ours - theirs).abs().mean() < 2e-3
    assert torch.nn.functional.cosine_similarity(ours.flatten(), theirs.flatten(), 0) > 0.9999


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation):
    data = with_orientation(make_image(orientation, (300, 200)), orientation)
    fallback = CountingPillow()
    [(tensor, width, height)] = preprocessor(fallback)([data])
    expected, expected_width, expected_height = pillow_path(data)
    assert fallback.calls == 0  # it took the tensor path
    assert (width, height) == (expected_width, expected_height)
    assert_same_pixels(tensor, expected)


def test_orient_is_exif_transpose():
    image = Image.new("L", (3, 2))
    image.putdata(range(6))
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(1, 2, 3)
    for orientation, method in {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.items():
        turned = image.transpose(method)
        expected = torch.frombuffer(bytearray(turned.tobytes()), dtype=torch.uint8)
        assert orient(pixels, orientation).flatten().tolist() == expected.tolist(), orientation


def test_odd_files_fall_back_per_image_and_errors_stay_per_image():
    photo = make_image(1, (320, 240))
    files = {
        "plain": image_bytes(photo, "JPEG"),
        "grey": image_bytes(photo.convert("L"), "JPEG"),
        "cmyk": image_bytes(photo.convert("CMYK"), "JPEG"),
        "progressive": image_bytes(photo, "JPEG", progressive=True),
        "png": image_bytes(photo, "PNG"),
        "truncated": image_bytes(photo, "JPEG")[:1500],
        "text": b"not an image at all",
        "bomb": image_bytes(Image.new("RGB", (2000, 1000)), "JPEG"),
        "empty": b"",
    }
    fallback = CountingPillow()
    outcomes = dict(zip(files, preprocessor(fallback)(list(files.values())), strict=True))
    assert fallback.calls == 4  # cmyk, progressive, png; truncated after the decoder refused
    for name in ("plain", "grey", "cmyk", "progressive", "png"):
        tensor, width, height = outcomes[name]
        assert (width, height) == (320, 240)
        assert_same_pixels(tensor, pillow_path(files[name])[0])
    for name, code in [
        ("truncated", "invalid_image"),
        ("text", "invalid_image"),
        ("bomb", "too_many_pixels"),
        ("empty", "empty_file"),
    ]:
        assert isinstance(outcomes[name], ApiError) and outcomes[name].code == code, name
        with pytest.raises(ApiError) as raised:
            pillow_path(files[name])
        assert raised.value.code == code  # the same error either way


def test_a_photo_twice_the_size_keeps_pillow_draft_decoding_on_the_cpu():
    fallback = CountingPillow()
    [(tensor, width, height)] = preprocessor(fallback)([image_bytes(make_image(2, (800, 600)))])
    assert fallback.calls == 1 and (width, height) == (800, 600) and tensor.shape[-1] == 224


SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def two_paths(encoder, photos: list[Path]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Unit vectors of ``photos`` by the tensor path and by the Pillow path, and how many
    photos the tensor path decoded itself (not handed to Pillow)."""

    def real_pillow(data: bytes):  # the service's Pillow path, with this backbone's transform
        decoded = decode_image(data, draft_size=(RESIZE, RESIZE))
        return encoder.transform(decoded.image), decoded.width, decoded.height

    tensors = TensorPreprocessor(
        encoder.backbone, encoder.device, real_pillow, max_bytes=2**24, max_pixels=40_000_000
    )
    ours, theirs, decoded_here = [], [], 0
    for start in range(0, len(photos), 64):
        files = [path.read_bytes() for path in photos[start : start + 64]]
        by_tensors = [outcome[0] for outcome in tensors(files)]
        by_pillow = [real_pillow(data)[0] for data in files]
        decoded_here += sum(
            not torch.equal(a, b) for a, b in zip(by_tensors, by_pillow, strict=True)
        )
        ours.append(encoder.embed(torch.stack(by_tensors)).vectors)
        theirs.append(encoder.embed(torch.stack(by_pillow)).vectors)
    return torch.cat(ours), torch.cat(theirs), decoded_here


def retrieval(vectors: torch.Tensor, files: list[ImageFile]) -> dict:
    """``evaluate``'s metrics over train-split photos only: every fourth photo asks, the rest
    answer (the official test split is never read here)."""
    queries = list(range(0, len(files), 4))
    gallery = [i for i in range(len(files)) if i % 4]
    labels = [file.breed for file in files]
    order = rank_gallery(vectors[queries].numpy(), vectors[gallery].numpy(), 200)
    rankings = [[labels[gallery[i]] for i in row] for row in order]
    metrics = summarise(rankings, [labels[i] for i in queries], [labels[i] for i in gallery], 10)
    return {name: round(value, 2) for name, value in metrics.items()}


@pytest.mark.realdata
@pytest.mark.timeout(1200)
def test_real_photos_give_the_pillow_paths_vectors_and_metrics():
    """Real photos of ../shared/data (half the train split's, and the cats): cosine >= 0.99
    between the two paths' vectors, and evaluate's retrieval metrics the same to the second
    decimal. Half keeps the test to about a minute on two cores."""
    root = SHARED_DATA / "stanford-dogs-sample"
    if not (root / "Images").is_dir():
        pytest.skip("../shared/data is absent")
    split = load_split(root / "lists")
    train = [
        file
        for file in iter_image_files(root / "Images")
        if split.get(file.relative_path) == "train"
    ]
    files = train[::2]
    cats = sorted((SHARED_DATA / "distractors" / "cats").glob("*"))
    encoder = load_encoder("efficientnet_lite0", device="cpu")
    ours, theirs, decoded_here = two_paths(encoder, [file.path for file in files] + cats)
    cosines = (ours * theirs).sum(dim=1)
    print(f"{len(cosines)} photos, {decoded_here} by the tensor path, min cosine {cosines.min()}")
    assert decoded_here > len(cosines) // 2  # most photos are plain JPEGs under 512 px
    assert cosines.min() >= 0.99
    assert retrieval(ours[: len(files)], files) == retrieval(theirs[: len(files)], files)
