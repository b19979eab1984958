"""A test-only backbone, registered from its own module as a new backbone would be: a few
convolutions, 8-d pooled features and no ImageNet-1k classifier, so it shows the vector recipe
and the service working without one."""

from __future__ import annotations

from torch import nn

from encoder.backbones import Backbone, Built, register
from services.encoder_wire import Calibration


@register
class Tiny(Backbone):
    name = "tiny_test"
    dim = 8
    stages = (("2",), ("1",))
    imagenet_classifier = False
    calibration = Calibration(match_strong=0.99, match_weak=0.5, copy_from=0.995)

    def build(self, *, pretrained: bool) -> Built:
        net = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU()),
            nn.Sequential(nn.Conv2d(4, 8, 3, stride=2), nn.ReLU()),
            nn.Sequential(nn.Conv2d(8, 8, 3, stride=2), nn.ReLU()),
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)),
        )
        return net, None

    def split(self, backbone: nn.Module, stages: int) -> tuple[nn.Module, nn.Sequential]:
        self.check_stages(stages)
        layers = list(backbone)  # three stages, then the pooling
        cut = 3 - stages
        return nn.Sequential(*layers[:cut]), nn.Sequential(*layers[cut:])
