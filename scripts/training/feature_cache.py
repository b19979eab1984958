"""The frozen trunk's output for every photo and view, computed once and kept on disk.

Only the last stage(s) learn, so the trunk (most of the network's cost) gives the same output
for a photo in every epoch. Fine-tuning on 2 CPU cores is therefore: run the trunk once over a
few views of each photo (the evaluation view, its mirror image, and random crops with colour
jitter), store the outputs (float16), then train the tail on them for as many epochs as
validation asks for. On a GPU the same cache makes epochs take seconds.

A cache file is named by a key over everything that decides its contents: the backbone, the
split point, the trunk's weights, the view recipe and the photos (paths and sizes). A changed
trunk, recipe or photo list gets a new file; nothing stale is ever read.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from tqdm import tqdm

from encoder.backbones import CROP, RESIZE, get_backbone
from services.dataset import ImageFile
from services.imaging import decode_image

log = logging.getLogger(__name__)
FLOAT16_SAFE = 30_000.0  # float16 holds up to 65,504: beyond, the cache keeps float32
VIEW_RECIPE = "v1:clean,mirror,rrc(0.35-1)+flip+jitter(0.2)"


def view_transform(arch: str, view: int) -> transforms.Compose:
    """View 0 is what the encoder sees; 1 its mirror image; 2+ random crops with jitter."""
    backbone = get_backbone(arch)
    tail = [transforms.ToTensor(), transforms.Normalize(backbone.mean, backbone.std)]
    if view == 0:
        return backbone.transform()
    if view == 1:
        resize = [transforms.Resize(RESIZE), transforms.CenterCrop(CROP)]
        return transforms.Compose([*resize, transforms.RandomHorizontalFlip(1.0), *tail])
    augment = [
        transforms.RandomResizedCrop(CROP, scale=(0.35, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
    ]
    return transforms.Compose([*augment, *tail])


class ViewedImages(Dataset):
    """``(view tensor, index)`` for every (photo, view); random views are seeded by their
    position, so a cache is rebuilt bit for bit."""

    def __init__(self, files: Sequence[ImageFile], arch: str, views: int, seed: int):
        self.files, self.views, self.seed = list(files), views, seed
        self.transforms = [view_transform(arch, v) for v in range(views)]

    def __len__(self) -> int:
        return len(self.files) * self.views

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        file, view = self.files[index // self.views], index % self.views
        image = decode_image(file.path.read_bytes(), draft_size=(RESIZE, RESIZE)).image
        torch.manual_seed(self.seed * 1_000_003 + index)
        return self.transforms[view](image), index


def cache_key(
    arch: str, stages: int, trunk: nn.Module, files: Sequence[ImageFile], views: int
) -> str:
    digest = hashlib.sha256(f"{arch}|{stages}|{VIEW_RECIPE}|{views}".encode())
    for name, tensor in trunk.state_dict().items():  # the weights alone, not the vector recipe
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for file in files:
        digest.update(f"{file.relative_path}|{file.path.stat().st_size}\n".encode())
    return digest.hexdigest()[:20]


@dataclass
class FeatureCache:
    features: torch.Tensor  # [photos, views, C, H, W] float16 (float32 if values are huge)
    labels: torch.Tensor  # [photos] class indices
    path: Path
    built_s: float = 0.0  # 0 when read from disk


def trunk_runner(trunk: nn.Module, device: torch.device, folder: Path) -> Callable:
    """``images -> trunk outputs``: ONNX Runtime on the CPU (faster than torch there; README,
    Fine-tune), torch with AMP on CUDA or when ORT fails."""
    trunk = trunk.eval().to(device)
    if device.type != "cpu":

        def on_device(images: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device.type):
                return trunk(images.to(device, non_blocking=True))

        return on_device
    try:
        import onnxruntime

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "trunk.onnx.part"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                trunk,
                (torch.zeros(1, 3, CROP, CROP),),
                str(path),
                input_names=["images"],
                output_names=["out"],
                dynamic_axes={"images": {0: "batch"}, "out": {0: "batch"}},
                dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        path.unlink()
    except Exception as error:  # an optional speed-up
        log.warning("ONNX Runtime unavailable for the trunk; torch", extra={"reason": str(error)})
        return trunk

    def on_cpu(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"images": images.numpy()})[0])

    return on_cpu


@torch.inference_mode()
def trunk_features(
    trunk: nn.Module,
    arch: str,
    stages: int,
    files: Sequence[ImageFile],
    labels: Sequence[int],
    *,
    views: int,
    cache_dir: Path,
    batch_size: int = 32,
    workers: int = 1,
    device: torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str = "trunk",
) -> FeatureCache:
    """The cached trunk outputs of ``files`` (computing them if this key has no file yet)."""
    device = device or torch.device("cpu")
    path = cache_dir / f"{arch}-s{stages}-{cache_key(arch, stages, trunk, files, views)}.pt"
    if path.exists():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        log.info("feature cache read", extra={"path": str(path), "photos": len(files)})
        return FeatureCache(stored["features"], stored["labels"], path)
    started = time.perf_counter()
    run = trunk_runner(trunk, device, cache_dir)
    loader = DataLoader(
        ViewedImages(files, arch, views, seed), batch_size=batch_size, num_workers=workers
    )
    features: torch.Tensor | None = None
    with tqdm(total=len(files) * views, desc=desc, unit="img", disable=not progress) as bar:
        for images, indices in loader:
            out = run(images).to("cpu", torch.float32)
            if features is None:
                features = torch.empty((len(files), views, *out.shape[1:]), dtype=torch.float16)
            if features.dtype == torch.float16 and out.abs().max() > FLOAT16_SAFE:
                features = features.float()  # e.g. an untrained trunk: keep every value
            features.view(-1, *out.shape[1:])[indices] = out.to(features.dtype)
            bar.update(len(indices))
    if features is None:
        raise SystemExit(f"no photos to cache for {desc}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    label_tensor = torch.as_tensor(list(labels), dtype=torch.long)
    tmp = path.with_suffix(".tmp")
    torch.save({"features": features, "labels": label_tensor}, tmp)
    tmp.replace(path)
    built_s = round(time.perf_counter() - started, 1)
    log.info("feature cache written", extra={"path": str(path), "seconds": built_s})
    return FeatureCache(features, label_tensor, path, built_s)
