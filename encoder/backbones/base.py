"""The one small interface every backbone implements, and the registry that finds them by name.

A backbone is a class in its own module under ``encoder/backbones`` (or anywhere, for tests),
decorated with :func:`register`. It says what its images need (``mean``, ``std``), how wide its
pooled features are (``dim``), where its stages split for fine-tuning, and what it was
calibrated to (``calibration``); it builds its network (``build``) and cuts it (``split``).
Nothing else in the encoder knows which backbone runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import nn
from torchvision import transforms

from services.encoder_wire import DEFAULT_CALIBRATION, Calibration

RESIZE, CROP = 256, 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The backbone without its classifier (``forward`` gives pooled ``[N, dim]`` features), and its
# ImageNet-1k classifier over those features (None: the backbone has none).
Built = tuple[nn.Module, nn.Linear | None]


class Backbone(ABC):
    name: ClassVar[str]  # as ENCODER_ARCH names it
    dim: ClassVar[int]  # pooled features
    mean: ClassVar[tuple[float, float, float]] = IMAGENET_MEAN
    std: ClassVar[tuple[float, float, float]] = IMAGENET_STD
    # Module-name prefixes of the last stages, last first; fine-tuning trains a copy of the
    # first ``train_stages`` of them (``split``).
    stages: ClassVar[tuple[tuple[str, ...], ...]] = ()
    train_stages: ClassVar[int] = 1
    # Whether ``build`` gives an ImageNet-1k classifier: the breed guesses and the dog score
    # of a model that is not fine-tuned come from it.
    imagenet_classifier: ClassVar[bool] = True
    calibration: ClassVar[Calibration] = DEFAULT_CALIBRATION

    @abstractmethod
    def build(self, *, pretrained: bool) -> Built:
        """The network, with its pretrained weights or (``pretrained=False``) torch's initial
        ones. Weights that cannot be had raise :class:`encoder.checkpoint.WeightsUnavailable`
        with what to download or set."""

    @abstractmethod
    def split(self, backbone: nn.Module, stages: int) -> tuple[nn.Module, nn.Sequential]:
        """``(trunk, tail)`` of a built backbone, so ``tail(trunk(x)) == backbone(x)``; modules
        shared, not copied. The tail is its last ``stages`` stages and then the pooling as one
        module (``tail[-1]``), so ``tail[:-1]`` ends on the feature map, in a fine-tuned
        network's tails too."""

    def feature_map(self, backbone: nn.Module) -> tuple[nn.Module, nn.Module]:
        """``(to_map, pool)``: ``to_map(x)`` is the last ``[N, dim, h, w]`` feature map and
        ``pool(to_map(x)) == backbone(x)`` (class activation maps weight the map by the
        classifier's rows)."""
        trunk, tail = self.split(backbone, 1)
        return nn.Sequential(trunk, *tail[:-1]), tail[-1]

    def transform(self) -> transforms.Compose:
        """Resize the shorter side to 256, centre-crop 224, normalise: for ingest and query."""
        return transforms.Compose(
            [
                transforms.Resize(RESIZE, interpolation=transforms.InterpolationMode.BILINEAR),
                transforms.CenterCrop(CROP),
                transforms.ToTensor(),
                transforms.Normalize(self.mean, self.std),
            ]
        )

    def check_stages(self, stages: int) -> None:
        if not 1 <= stages <= len(self.stages):
            raise ValueError(f"{self.name} can split off 1 to {len(self.stages)} stages")


REGISTRY: dict[str, Backbone] = {}


def register(cls: type[Backbone]) -> type[Backbone]:
    """Class decorator: make ``cls`` available by its ``name`` (ENCODER_ARCH, ``--arch``)."""
    if cls.name in REGISTRY and type(REGISTRY[cls.name]) is not cls:
        raise ValueError(f"two backbones are named {cls.name!r}")
    REGISTRY[cls.name] = cls()
    return cls
