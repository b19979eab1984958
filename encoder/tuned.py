"""The partially fine-tuned network: a frozen trunk, and two copies of the last stage(s).

Only the last stage(s) of the backbone learn (the design). Fine-tuning them changes the pooled
features, and the ImageNet classifier on top of those is what says whether a photo shows a dog
(and knows cats, wolves and foxes): so the ImageNet tail is kept as it was, beside a fine-tuned
copy of it with the breed head. The trunk, which does most of the work, runs once for both.

Outputs, as every network of :mod:`encoder.model` gives them (``understand`` makes the vector):

- ``features``: the pooled look, from the ImageNet tail or the fine-tuned one (``look_tuned``);
- ``imagenet_logits``: the ImageNet classifier on the ImageNet tail (the dog score);
- ``breed_logits``: ``mix * log_softmax(head) + (1 - mix) * log_softmax(ImageNet breed rows)``,
  a geometric mix of the fine-tuned and the ImageNet breed beliefs (``mix`` 1: the head alone).

``mix`` and ``look_tuned`` are buffers, chosen on validation when fine-tuning ends: they travel
in the checkpoint and its fingerprint, like the weights.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


class TunedNet(nn.Module):
    breed_rows: torch.Tensor  # buffers, declared so a type checker knows them
    mix: torch.Tensor
    look_tuned: torch.Tensor

    def __init__(
        self,
        trunk: nn.Module,
        imagenet_tail: nn.Module,
        imagenet_head: nn.Linear,
        head: nn.Linear,
        breed_rows: Sequence[int],
        tuned_tail: nn.Module | None = None,
        mix: float = 1.0,
        look_tuned: bool = False,
    ):
        super().__init__()
        self.trunk = trunk
        self.imagenet_tail = imagenet_tail
        self.imagenet_head = imagenet_head
        self.tuned_tail = tuned_tail if tuned_tail is not None else copy.deepcopy(imagenet_tail)
        self.head = head
        self.register_buffer("breed_rows", torch.as_tensor(list(breed_rows), dtype=torch.long))
        self.register_buffer("mix", torch.tensor(float(mix)))
        self.register_buffer("look_tuned", torch.tensor(float(look_tuned)))

    @property
    def mixes_imagenet(self) -> bool:
        """The ImageNet breed rows can join only when the head's classes are those breeds."""
        return self.head.out_features == len(self.breed_rows)

    def head_logits(self, trunk_out: torch.Tensor) -> torch.Tensor:
        """The fine-tuned head's logits from the trunk's output: what training optimises."""
        return self.head(self.tuned_tail(trunk_out))

    def from_trunk(self, trunk_out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        imagenet_features = self.imagenet_tail(trunk_out)
        imagenet_logits = self.imagenet_head(imagenet_features)
        tuned_features = self.tuned_tail(trunk_out)
        logits = torch.log_softmax(self.head(tuned_features), dim=1)
        if self.mixes_imagenet:
            imagenet_breeds = torch.log_softmax(imagenet_logits[:, self.breed_rows], dim=1)
            logits = self.mix * logits + (1 - self.mix) * imagenet_breeds
        features = imagenet_features + self.look_tuned * (tuned_features - imagenet_features)
        return features, imagenet_logits, logits

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.from_trunk(self.trunk(images))

    def learning_modules(self) -> list[nn.Module]:
        return [self.tuned_tail, self.head]


def head_from_imagenet(classifier: nn.Linear, breed_rows: Sequence[int], classes: int) -> nn.Linear:
    """A breed head that starts as the ImageNet classifier's breed rows (a head that already
    knows the breeds, so a gentle fine-tune only has to improve it); extra classes start small."""
    head = nn.Linear(classifier.in_features, classes)
    with torch.no_grad():
        nn.init.normal_(head.weight, std=0.01)
        head.bias.zero_()
        rows = list(breed_rows)[:classes]
        head.weight[: len(rows)] = classifier.weight[rows]
        head.bias[: len(rows)] = classifier.bias[rows]
    return head
