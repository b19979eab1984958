"""ResNet-152 (the default): torchvision's, global-average-pooled 2048-d features, with the
IMAGENET1K_V2 weights torch downloads once into ``$TORCH_HOME``."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import torch
from torch import nn

from encoder.backbones.base import Backbone, Built, register
from encoder.checkpoint import WeightsUnavailable

DOWNLOAD_TIMEOUT_S = 30


@register
class ResNet152(Backbone):
    name = "resnet152"
    dim = 2048
    stages = (("layer4",), ("layer3",), ("layer2",))
    train_stages = 1

    def build(self, *, pretrained: bool) -> Built:
        from torchvision.models import resnet152

        model = resnet152(weights=None)
        if pretrained:
            model.load_state_dict(imagenet_state_dict())
        classifier, model.fc = model.fc, nn.Identity()
        return model, classifier

    def split(self, backbone: nn.Module, stages: int) -> tuple[nn.Module, nn.Sequential]:
        self.check_stages(stages)
        b: Any = backbone  # torchvision's attributes, which nn.Module's typing cannot know
        layers = [b.conv1, b.bn1, b.relu, b.maxpool, b.layer1, b.layer2, b.layer3, b.layer4]
        cut = len(layers) - stages
        pool = nn.Sequential(b.avgpool, nn.Flatten(1))  # no weights: checkpoints keep their keys
        return nn.Sequential(*layers[:cut]), nn.Sequential(*layers[cut:], pool)


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    from torchvision.models import ResNet152_Weights

    from encoder.backbones import OFFLINE_BACKBONE

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
