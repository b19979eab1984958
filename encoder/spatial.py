"""Feature maps before pooling: where in a photo the network saw what.

Every network of :mod:`encoder.model` pools its last feature map by a global average and puts a
linear classifier on the pooled vector, so that classifier applied at each location of the map
says what each region looks like (a class activation map), and the average of the map is the
pooled look the vector is made of. Localisation (:mod:`encoder.localise`) and the "why does it
match" heat maps (:mod:`encoder.explain`) both start here. The map itself comes from the
backbone seam (:meth:`encoder.backbones.base.Backbone.feature_map`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn
from torchvision.transforms import functional as tf


@dataclass
class SpatialNet:
    """``features(images)`` -> ``[N, C, h, w]``, the map whose average is the pooled look that
    ``imagenet_head`` classifies (the ImageNet one: it is what knows a dog from the rest)."""

    body: nn.Module
    imagenet_head: nn.Linear
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: torch.device

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images.to(self.device)).float()

    @torch.inference_mode()
    def logits_map(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, C, h, w]`` -> ``[N, classes, h, w]``: the classifier at each location."""
        weight, bias = self.imagenet_head.weight.float(), self.imagenet_head.bias.float()
        return torch.einsum("nchw,kc->nkhw", features, weight) + bias[None, :, None, None]

    def tensor(self, image: Image.Image, longest: int) -> torch.Tensor:
        """The whole photo (no centre crop: a dog at the edge counts), its longer side resized
        to ``longest``, normalised like the vectors' input; ``[3, H, W]``."""
        scale = longest / max(image.width, image.height)
        size = (max(32, round(image.height * scale)), max(32, round(image.width * scale)))
        resized = tf.resize(image.convert("RGB"), list(size), antialias=True)
        return tf.normalize(tf.to_tensor(resized), list(self.mean), list(self.std))


def spatial_net(encoder) -> SpatialNet:
    """The :class:`SpatialNet` of an :class:`encoder.model.Encoder` (plain or fine-tuned)."""
    net = encoder.net
    if hasattr(net, "trunk"):  # TunedNet: the ImageNet tail, which the dog score trusts
        # a tail ends with its pooling as one module (Backbone.split)
        body: nn.Module = nn.Sequential(net.trunk, *net.imagenet_tail[:-1])
    else:
        body, _ = encoder.backbone.feature_map(net.backbone)
    body.eval()
    backbone = encoder.backbone
    return SpatialNet(body, net.imagenet_head, backbone.mean, backbone.std, encoder.device)
