"""The one model module: weights, preprocessing and the network around a backbone.

The encoder service, fine-tuning, evaluation and the tests all import this, so an image is
turned into a vector the same way everywhere. Nothing outside knows which backbone runs:
callers get an :class:`Encoder` with ``info.dim`` and ``embed()``, whose outputs
:mod:`encoder.understanding` turns into the vector, breed guesses and dog score. Each backbone
is a class in :mod:`encoder.backbones` (ResNet-152 by default; the offline EfficientNet-Lite0).

Weights, in order: a fine-tuned checkpoint, else the backbone's pretrained weights, else a clear
error; ``random`` (seeded, deterministic) exists for plumbing tests only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torchvision import transforms

from encoder.backbones import CROP, OFFLINE_BACKBONE, RESIZE, Backbone, Built, get_backbone
from encoder.checkpoint import WeightsUnavailable, fingerprint_state_dict, load_checkpoint
from encoder.tuned import TunedNet, head_from_imagenet
from encoder.understanding import Understood, imagenet_breed_indices, understand
from services.dataset import BreedList
from services.encoder_wire import DEFAULT_CALIBRATION, Calibration, ModelInfo

log = logging.getLogger(__name__)

RANDOM_SEED = 1234
__all__ = ["CROP", "OFFLINE_BACKBONE", "RESIZE", "Built", "Embed", "Encoder", "load_encoder"]


class EmbeddingNet(nn.Module):
    """Backbone -> pooled features, and from them the ImageNet logits (``imagenet_head``, never
    trained here: it says whether a photo shows a dog; None when the backbone has none) and,
    when fine-tuned, breed logits."""

    def __init__(
        self,
        backbone: nn.Module,
        imagenet_head: nn.Linear | None,
        head: nn.Linear | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.imagenet_head = imagenet_head
        self.head = head

    def forward(
        self, images: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        features = self.backbone(images)
        imagenet = self.imagenet_head(features) if self.imagenet_head is not None else None
        logits = self.head(features) if self.head is not None else None
        return features, imagenet, logits


def build_backbone(arch: str, *, pretrained: bool) -> Built:
    """The backbone (``forward`` gives pooled features) and its ImageNet classifier."""
    return get_backbone(arch).build(pretrained=pretrained)


def split_backbone(arch: str, backbone: nn.Module, stages: int) -> tuple[nn.Module, nn.Module]:
    """``(trunk, tail)`` of a built backbone; see :meth:`Backbone.split`."""
    return get_backbone(arch).split(backbone, stages)


def build_pretrained_backbone(arch: str) -> tuple[str, Built]:
    """``arch`` with pretrained weights; ``auto`` is ResNet-152, or the offline backbone when
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


# A batch of preprocessed images -> vectors, breed probabilities and dog scores.
Embed = Callable[[torch.Tensor], Understood]


@dataclass
class Encoder:
    """A ready-to-use model: ``embed`` maps a batch of preprocessed images to unit vectors,
    breed probabilities (over ``class_names``) and dog scores."""

    net: nn.Module  # EmbeddingNet, or TunedNet from a checkpoint
    info: ModelInfo
    backbone: Backbone
    device: torch.device
    class_names: list[str] = field(default_factory=list)
    use_amp: bool = False
    calibration: Calibration = DEFAULT_CALIBRATION

    @property
    def transform(self) -> transforms.Compose:
        return self.backbone.transform()

    @torch.inference_mode()
    def embed(self, batch: torch.Tensor) -> Understood:
        """``[N, 3, 224, 224]`` -> :class:`Understood` on the CPU (float32)."""
        batch = batch.to(self.device, non_blocking=True).contiguous(
            memory_format=torch.channels_last
        )
        with torch.autocast(self.device.type, enabled=self.use_amp):
            features, imagenet_logits, head_logits = self.net(batch)
        return understand(features, imagenet_logits, head_logits, self.calibration).cpu()


def choose_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def tuned_net(arch: str, built: Built, stages: int, classes: int) -> TunedNet:
    """A :class:`TunedNet` around a built backbone: its last ``stages`` split off and copied,
    and a breed head that starts as the ImageNet classifier's breed rows."""
    backbone, classifier = built
    if classifier is None:
        raise ValueError(f"fine-tuning starts from an ImageNet-1k classifier; {arch} has none")
    trunk, tail = split_backbone(arch, backbone, stages)
    rows = imagenet_breed_indices()
    return TunedNet(trunk, tail, classifier, head_from_imagenet(classifier, rows, classes), rows)


@dataclass
class _Loaded:
    arch: str
    net: nn.Module
    class_names: list[str]
    source: str  # where the weights came from
    calibration: Calibration


def _network(arch: str, weights: str, checkpoint) -> _Loaded:
    if checkpoint:
        payload = load_checkpoint(checkpoint)
        arch, class_names = payload["arch"], list(payload["class_names"])
        backbone = get_backbone(arch)
        net = tuned_net(
            arch, backbone.build(pretrained=False), int(payload["train_stages"]), len(class_names)
        )
        net.load_state_dict(payload["state_dict"])
        calibration = Calibration.from_dict(
            payload.get("calibration", backbone.calibration.to_dict())
        )
        return _Loaded(arch, net, class_names, "checkpoint", calibration)
    if weights == "random":
        arch = "resnet152" if arch == "auto" else arch
        log.warning(
            "ENCODER_WEIGHTS=random: RANDOM WEIGHTS, vectors are meaningless; plumbing tests only",
            extra={"arch": arch, "seed": RANDOM_SEED},
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            plain = EmbeddingNet(*build_backbone(arch, pretrained=False))
        source = "random"
    else:
        arch, built = build_pretrained_backbone(arch)
        plain, source = EmbeddingNet(*built), "imagenet"
    # The ImageNet classifier's breed classes, in order; none without that classifier.
    breeds = list(BreedList.load().names) if plain.imagenet_head is not None else []
    return _Loaded(arch, plain, breeds, source, get_backbone(arch).calibration)


def load_encoder(
    arch: str = "resnet152",
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    device: str = "auto",
) -> Encoder:
    """Build the encoder the settings ask for; see the module docstring for the order.

    ``arch="auto"`` tries ResNet-152 and falls back to the offline backbone (loudly).
    ``weights``: ``auto`` (checkpoint if given, else pretrained), ``imagenet`` or ``random``.
    """
    torch_device = choose_device(device)
    loaded = _network(arch, weights, checkpoint)
    net, backbone, calibration = loaded.net, get_backbone(loaded.arch), loaded.calibration
    net.eval().to(torch_device).to(memory_format=torch.channels_last)
    info = ModelInfo(
        arch=loaded.arch,
        dim=backbone.dim + len(loaded.class_names),
        fingerprint=fingerprint_state_dict(loaded.arch, net.state_dict(), calibration),
        weights=loaded.source,
        offline_backbone=loaded.arch == OFFLINE_BACKBONE,
        has_head=net.head is not None,
        dog_threshold=calibration.dog_threshold,
        match_strong=calibration.match_strong,
        match_weak=calibration.match_weak,
        appearance_dims=backbone.dim,
        copy_from=calibration.copy_from,
    )
    return Encoder(
        net=net,
        info=info,
        backbone=backbone,
        device=torch_device,
        class_names=loaded.class_names,
        use_amp=torch_device.type == "cuda",
        calibration=calibration,
    )
