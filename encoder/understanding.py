"""What the network's outputs say about a photo: its breed-aware vector, its breed guesses and
whether it shows a dog. One recipe for every backbone and both runtimes (torch, ONNX Runtime);
why each part is as it is, with the measurements and the commands that repeat them:
``docs/calibration.md``.

- **Breed logits** ``z``: the fine-tuned head's, or else the ImageNet classifier's logits at the
  120 Stanford breeds (matched by WordNet id, not by index). A backbone with neither (no
  ImageNet-1k classifier, not fine-tuned) has no breed part.
- **Vector**: ``l2n(concat(l2n(pooled), 3 * mass * l2n(sqrt(softmax(z / 0.25)))))``, ``mass``
  the ImageNet probability mass on the breeds (1 without an ImageNet classifier). Its dimension
  is the backbone's plus the number of breed classes.
- **Breed guesses**: ``softmax(z)``, highest first.
- **Is it a dog**: a logistic model over five numbers of the ImageNet softmax
  (:func:`dog_features`), with the model's :class:`Calibration`; none without an ImageNet
  classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn

from services.dataset import DEFAULT_BREEDS_FILE
from services.encoder_wire import DEFAULT_CALIBRATION, Calibration

TEMPERATURE = 0.25
BREED_WEIGHT = 3.0
DOMESTIC_CATS, FELINES = range(281, 286), range(281, 294)  # ImageNet-1k class indices


def recipe(calibration: Calibration = DEFAULT_CALIBRATION) -> str:
    """The vector recipe as text, hashed into every fingerprint: a new recipe is a new model."""
    weights = tuple(calibration.dog_weights)
    return (
        f"pooled+{BREED_WEIGHT:g}*breedmass*sqrt(softmax(breed_logits/{TEMPERATURE:g}))"
        f"|dog=logistic{weights}+{calibration.dog_bias}"
    )


@cache
def imagenet_breed_indices(breeds_file: Path = DEFAULT_BREEDS_FILE) -> tuple[int, ...]:
    """The ImageNet-1k class index of each official breed, in ``data/breeds.txt`` order."""
    import timm

    synsets_file = Path(timm.__file__).parent / "data" / "_info" / "imagenet_synsets.txt"
    synsets = synsets_file.read_text().split()
    position = {wnid: index for index, wnid in enumerate(synsets)}
    folders = [line.strip() for line in breeds_file.read_text().splitlines() if line.strip()]
    return tuple(position[folder.split("-", 1)[0]] for folder in folders)


@dataclass
class Understood:
    vectors: torch.Tensor  # [N, dim + breeds] unit vectors
    breed_probabilities: torch.Tensor  # [N, breeds], each row sums to 1 ([N, 0]: no breeds)
    dog_scores: torch.Tensor | None  # [N] in [0, 1], see dog_score; None: cannot tell

    def cpu(self) -> Understood:
        return Understood(
            self.vectors.cpu(),
            self.breed_probabilities.cpu(),
            None if self.dog_scores is None else self.dog_scores.cpu(),
        )


def dog_features(imagenet_logits: torch.Tensor) -> torch.Tensor:
    """``[N, 5]``: the log masses on the breeds, domestic cats, felines and everything else,
    and the log of the most likely breed."""
    p = torch.softmax(imagenet_logits.float(), dim=1)
    breeds = torch.as_tensor(imagenet_breed_indices(), device=p.device)
    dog = p[:, breeds].sum(dim=1)
    cat = p[:, DOMESTIC_CATS.start : DOMESTIC_CATS.stop].sum(dim=1)
    felines = p[:, FELINES.start : FELINES.stop].sum(dim=1)
    other = (1 - dog - felines).clamp(min=0)
    top_breed = p[:, breeds].max(dim=1).values
    return torch.log(torch.stack([dog, cat, felines, other, top_breed], dim=1) + 1e-7)


def dog_score(
    imagenet_logits: torch.Tensor, calibration: Calibration = DEFAULT_CALIBRATION
) -> torch.Tensor:
    """``[N]`` in [0, 1]: how surely each photo shows a dog."""
    weights = torch.tensor(calibration.dog_weights, device=imagenet_logits.device)
    return torch.sigmoid(dog_features(imagenet_logits) @ weights + calibration.dog_bias)


def understand(
    features: torch.Tensor,
    imagenet_logits: torch.Tensor | None,
    head_logits: torch.Tensor | None = None,
    calibration: Calibration = DEFAULT_CALIBRATION,
) -> Understood:
    """The recipe of the module docstring, from the network's outputs (``imagenet_logits``:
    None for a backbone without an ImageNet-1k classifier)."""
    features = features.float()
    pooled = nn.functional.normalize(features, dim=1)
    if imagenet_logits is None:
        dog_scores, breed_mass, z = None, None, head_logits
    else:
        imagenet_logits = imagenet_logits.float()
        breeds = torch.as_tensor(imagenet_breed_indices(), device=imagenet_logits.device)
        z = head_logits if head_logits is not None else imagenet_logits[:, breeds]
        dog_scores = dog_score(imagenet_logits, calibration)
        # Weighted by the breed mass, not the dog score: see docs/calibration.md.
        breed_mass = torch.softmax(imagenet_logits, dim=1)[:, breeds].sum(dim=1)
    if z is None:
        return Understood(pooled, features.new_zeros(len(features), 0), dog_scores)
    z = z.float()
    breed_part = nn.functional.normalize(torch.sqrt(torch.softmax(z / TEMPERATURE, dim=1)), dim=1)
    weight = BREED_WEIGHT * (breed_mass[:, None] if breed_mass is not None else 1.0)
    vectors = nn.functional.normalize(torch.cat([pooled, weight * breed_part], dim=1), dim=1)
    return Understood(vectors, torch.softmax(z, dim=1), dog_scores)
